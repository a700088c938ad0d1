"""Public, unauthenticated pages: hosted OB 2.0 documents and their HTML views.

URL shapes come from :class:`hub.urls.Urls`. JSON-LD is served as ``application/ld+json``
(https://www.imsglobal.org/spec/ob/v2p0/#HostedBadge); browsers get HTML (see :mod:`.negotiation`).
"""

from __future__ import annotations

import io
import json
from functools import cache

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup
from PIL import Image, ImageDraw
from sqlalchemy import select

from hub.badges.models import Assertion, BadgeClass, Issuer, IssuerKey
from hub.badges.services import get_by_public_id
from hub.bidi import isolate as bidi_isolate
from hub.bidi import visible_json as bidi_visible_json
from hub.certificates import services as certificates
from hub.certificates import sharing
from hub.context import current_context
from hub.credentials import ob2
from hub.errors import NotFound, ValidationError
from hub.i18n import lazy as _l
from hub.learners.profile import Presentation, presentation
from hub.web import db_session
from hub.web.learner import owns
from hub.web.negotiation import wants_html

bp = Blueprint("public", __name__)


@bp.after_request
def _vary_on_accept(response):
    # The same URL answers JSON-LD or HTML by Accept: caches must keep the two apart.
    response.vary.add("Accept")
    return response


def jsonld(doc: dict, status: int = 200, *, download: str | None = None) -> Response:
    """``doc`` as ``application/ld+json``; ``download`` (a file name) adds ``Content-Disposition:
    attachment`` (RFC 6266), so a browser saves it instead of showing it."""
    body = json.dumps(doc, ensure_ascii=False, indent=2)
    response = Response(body, status=status, content_type="application/ld+json; charset=utf-8")
    if download:
        response.headers["Content-Disposition"] = f'attachment; filename="{download}"'
    return response


def json_download_requested() -> bool:
    """True for ``?format=json`` (the page's "(JSON)" links): JSON whatever ``Accept`` says.

    Raises:
        ValidationError: another ``format`` value (field ``format``).
    """
    fmt = request.args.get("format")
    if fmt is None:
        return False
    if fmt != "json":
        raise ValidationError(_l("format must be json"), field="format")
    return True


@bp.app_template_global()
def bdi(text) -> Markup:
    """``text`` (escaped) in ``<bdi>``: for names and reasons people typed that sit inside a sentence,
    so a bidi control in them (U+202E RIGHT-TO-LEFT OVERRIDE…) cannot reorder the text around them."""
    return Markup("<bdi>%s</bdi>") % ("" if text is None else text)


@bp.app_template_filter("isolate")
def isolate(text) -> str:
    """``text`` between U+2068 FIRST STRONG ISOLATE and U+2069 POP DIRECTIONAL ISOLATE, the plain-text
    ``<bdi>`` for places that take no markup (``<title>``, ``og:title``): :func:`hub.bidi.isolate`."""
    return bidi_isolate(text)


@bp.app_template_filter("visible_json")
def visible_json(value) -> str:
    """``value`` as JSON with its bidi controls escaped (:func:`hub.bidi.visible_json`; the audit log)."""
    return bidi_visible_json(value)


@cache
def favicon_ico() -> bytes:
    """The hub's icon (a medal in the public pages' navy), 16, 32 and 48 px in one ICO file."""
    size = 192
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    navy, gold = (20, 54, 93, 255), (233, 180, 40, 255)
    draw.polygon([(60, 100), (40, 186), (74, 166), (96, 190), (96, 110)], fill=navy)  # ribbon tails
    draw.polygon([(132, 100), (152, 186), (118, 166), (96, 190), (96, 110)], fill=navy)
    draw.ellipse((28, 4, 164, 140), fill=navy)
    draw.ellipse((52, 28, 140, 116), fill=gold)
    buf = io.BytesIO()
    image.save(buf, "ICO", sizes=[(16, 16), (32, 32), (48, 48)])
    return buf.getvalue()


@bp.get("/favicon.ico")
def favicon():
    """The icon browsers ask for on every page (public pages and the console)."""
    resp = _image(favicon_ico(), "image/vnd.microsoft.icon")
    resp.headers["Cache-Control"] = "public, max-age=86400"
    return resp


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
        raise NotFound(_l("this issuer has no image"))
    return _image(row.image, row.image_type)


@bp.get("/issuers/<issuer_id>/keys/<key_id>")
def key(issuer_id: str, key_id: str):
    row = get_by_public_id(db_session(), IssuerKey, key_id)
    if row.issuer.public_id != issuer_id:
        raise NotFound(_l("no key %(key)s for issuer %(issuer)s", key=key_id, issuer=issuer_id))
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
        from hub.paths.services import paths_of_badge

        return render_template("badge_class.html", badge=row, doc=doc, paths=paths_of_badge(db_session(), row.id))
    return jsonld(doc)


@bp.get("/paths/<path_id>")
def path_page(path_id: str):
    """A development path's public page: its steps (required, optional, "N of these M") and what its
    completion badge means; JSON (:func:`hub.web.api_paths.path_json`) for non-browsers."""
    from hub.paths.models import Path
    from hub.web.api_paths import path_json

    row = get_by_public_id(db_session(), Path, path_id)
    doc = path_json(row, current_context())
    if wants_html():
        return render_template("path.html", path=row, doc=doc)
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/json")


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
    """The hosted assertion; 410 with ``revoked: true`` and the reason once revoked. Browsers get the
    public badge page (live status, downloads, sharing; see ``assertion.html``); ``?format=json`` is
    the JSON as a download for everyone (the page's "(JSON)" link)."""
    session = db_session()
    row = get_by_public_id(session, Assertion, assertion_id)
    urls = current_context().urls
    download = f"assertion-{row.public_id}.json" if json_download_requested() else None
    if download is None and wants_html():
        return _assertion_page(session, row), (410 if row.revoked else 200)
    if row.revoked:
        return jsonld(ob2.revoked_json(urls, row), status=410, download=download)
    return jsonld(ob2.assertion_json(urls, row), download=download)


def _assertion_page(session, row: Assertion) -> str:
    ctx = current_context()
    pres = presentation(session, row)
    page_url = ctx.urls.assertion(row.public_id)
    baked_ext = "png" if row.badge_class.image_type == "image/png" else "svg"
    return render_template(
        "assertion.html",
        a=row,
        badge=row.badge_class,
        issuer=row.badge_class.issuer,
        urls=ctx.urls,
        pres=pres,
        status=sharing.live_status(row),
        content=certificates.content_for(session, ctx, row),
        page_url=page_url,
        baked_ext=baked_ext,
        baked_url=ctx.urls.assertion_baked(row.public_id, baked_ext),
        pdf_public=certificate_is_public(pres),
        linkedin_url=sharing.linkedin_add_url(row, page_url),
        embed=sharing.embed_snippet(row, page_url, ctx.urls.badge_image(row.badge_class.public_id)),
    )


def certificate_is_public(pres: Presentation) -> bool:
    """The certificate prints the recipient's name, so anyone may download it only when the learner
    lets public pages show that name; the learner can always download it from their own page."""
    return pres.show_name


@bp.get("/assertions/<assertion_id>/certificate.pdf")
def certificate_pdf(assertion_id: str):
    """The signed PDF certificate, pre-rendered by the ``certificate.render`` job after the award; one
    that is missing or stale (a revocation since) is rendered in memory, never stored here (a GET never
    writes). Anyone may download it when the learner shows their name publicly; otherwise only the
    signed-in learner (``/me``). 503 problem while the issuer's signing certificate is not made yet."""
    ctx = current_context()
    session = db_session()
    row = get_by_public_id(session, Assertion, assertion_id)
    pres = presentation(session, row)
    if not certificate_is_public(pres) and not owns(pres):
        raise NotFound(_l("the recipient has not made this certificate public"))
    data = certificates.certificate_pdf(session, ctx, row, store=False)
    resp = Response(data, content_type="application/pdf")
    resp.headers["Content-Disposition"] = f'inline; filename="certificate-{assertion_id}.pdf"'
    resp.headers["Cache-Control"] = "private, no-cache"  # a revocation must show at the next download
    return resp


@bp.get("/assertions/<assertion_id>/preview.png")
def preview_image(assertion_id: str):
    """The 1200x628 sharing preview (OpenGraph / Twitter card): the pre-rendered one while what it shows
    is unchanged, else rendered in memory (never stored here)."""
    ctx = current_context()
    session = db_session()
    data = certificates.preview_png(session, ctx, get_by_public_id(session, Assertion, assertion_id), store=False)
    return _image(data, "image/png")


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
    """An image response, cacheable for five minutes; its CSP comes from :mod:`hub.web.security`."""
    resp = Response(data, content_type=media_type)
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
