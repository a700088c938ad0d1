"""Public, unauthenticated pages: hosted OB 2.0 documents and their HTML views.

URL shapes come from :class:`hub.urls.Urls`. JSON-LD is served as ``application/ld+json``
(https://www.imsglobal.org/spec/ob/v2p0/#HostedBadge); browsers get HTML (see :mod:`.negotiation`).
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, render_template, request
from sqlalchemy import select

from hub.badges.models import Assertion, BadgeClass, Issuer, IssuerKey
from hub.badges.services import get_by_public_id
from hub.context import current_context
from hub.credentials import ob2
from hub.db import utcnow
from hub.errors import NotFound
from hub.web import db_session
from hub.web.negotiation import wants_html

bp = Blueprint("public", __name__)


def jsonld(doc: dict, status: int = 200) -> Response:
    body = json.dumps(doc, ensure_ascii=False, indent=2)
    return Response(body, status=status, content_type="application/ld+json; charset=utf-8")


@bp.get("/health")
def health():
    """Liveness and database reachability: ``{"status": "ok"}`` or 503 problem."""
    db_session().execute(select(1))
    return {"status": "ok", "database": "ok"}


@bp.get("/issuers/<issuer_id>")
def issuer(issuer_id: str):
    row = get_by_public_id(db_session(), Issuer, issuer_id)
    doc = ob2.issuer_json(current_context().urls, row)
    if wants_html():
        return render_template("issuer.html", issuer=row, doc=doc)
    return jsonld(doc)


@bp.get("/issuers/<issuer_id>/image")
def issuer_image(issuer_id: str):
    row = get_by_public_id(db_session(), Issuer, issuer_id)
    if not row.image:
        raise NotFound("this issuer has no image")
    return _image(row.image, row.image_type)


@bp.get("/issuers/<issuer_id>/keys/<key_id>")
def key(issuer_id: str, key_id: str):
    row = get_by_public_id(db_session(), IssuerKey, key_id)
    if row.issuer.public_id != issuer_id:
        raise NotFound(f"no key {key_id} for issuer {issuer_id}")
    return jsonld(ob2.key_json(current_context().urls, row))


@bp.get("/issuers/<issuer_id>/revocations")
def revocations(issuer_id: str):
    session = db_session()
    row = get_by_public_id(session, Issuer, issuer_id)
    revoked = session.scalars(
        select(Assertion)
        .join(BadgeClass)
        .where(BadgeClass.issuer_id == row.id, Assertion.revoked.is_(True))
        .order_by(Assertion.revoked_at)
    ).all()
    return jsonld(ob2.revocation_list_json(current_context().urls, row, list(revoked)))


@bp.get("/badges/<badge_id>")
def badge_class(badge_id: str):
    row = get_by_public_id(db_session(), BadgeClass, badge_id)
    doc = ob2.badge_class_json(current_context().urls, row)
    if wants_html():
        return render_template("badge_class.html", badge=row, doc=doc)
    return jsonld(doc)


@bp.get("/badges/<badge_id>/image")
def badge_image(badge_id: str):
    row = get_by_public_id(db_session(), BadgeClass, badge_id)
    return _image(row.image, row.image_type)


@bp.get("/badges/<badge_id>/criteria")
def criteria(badge_id: str):
    row = get_by_public_id(db_session(), BadgeClass, badge_id)
    return render_template("criteria.html", badge=row)


@bp.get("/assertions/<assertion_id>")
def assertion(assertion_id: str):
    """The hosted assertion; 410 with ``revoked: true`` and the reason once revoked."""
    row = get_by_public_id(db_session(), Assertion, assertion_id)
    urls = current_context().urls
    if wants_html():
        return render_template(
            "assertion.html",
            a=row,
            badge=row.badge_class,
            issuer=row.badge_class.issuer,
            urls=urls,
            now=utcnow(),
        ), (410 if row.revoked else 200)
    if row.revoked:
        return jsonld(ob2.revoked_json(urls, row), status=410)
    return jsonld(ob2.assertion_json(urls, row))


@bp.get("/assertions/<assertion_id>/signed")
def assertion_signed(assertion_id: str):
    """The signed assertion as a compact JWS (``text/plain``). Revocation is announced through the
    issuer's RevocationList, so the JWS stays available."""
    row = get_by_public_id(db_session(), Assertion, assertion_id)
    return Response(row.signature, content_type="text/plain; charset=utf-8")


@bp.get("/assertions/<assertion_id>/baked.<ext>")
def assertion_baked(assertion_id: str, ext: str):
    """The badge image with the assertion baked in: ``?form=hosted`` (default; the hosted JSON) or
    ``?form=signed`` (the JWS). SVG needs an SVG badge image, PNG a PNG one."""
    row = get_by_public_id(db_session(), Assertion, assertion_id)
    data = ob2.baked_assertion(current_context().urls, row, ext, signed=request.args.get("form") == "signed")
    name = f"badge-{row.public_id}.{ext}"
    resp = _image(data, "image/png" if ext == "png" else "image/svg+xml")
    resp.headers["Content-Disposition"] = f'inline; filename="{name}"'
    return resp


def _image(data: bytes, media_type: str) -> Response:
    resp = Response(data, content_type=media_type)
    resp.headers["Cache-Control"] = "public, max-age=300"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if media_type == "image/svg+xml":
        resp.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return resp
