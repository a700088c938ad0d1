"""Public OB 3.0 endpoints: credentials (JSON-LD, VC-JWT, baked, HTML), DID documents, status lists.

URL shapes come from :class:`hub.urls.Urls` (``credential``, ``credential_jwt``, ``credential_baked``,
``issuer_did_document``, ``status_list``, ``revocation_list_1edtech``). The credential's JSON is served
as ``application/vc+ld+json`` and also answers ``Accept: application/ld+json`` / ``application/json``
with that type's name; browsers (``text/html`` first) get a page. VC-JWTs are ``text/plain``.
Register with ``app.register_blueprint(hub.web.ob3.bp)``; needs ``app.extensions["hub"]`` (HubContext).
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext
from sqlalchemy import select

from hub.badges.models import Assertion
from hub.certificates.render import achievement_type_label
from hub.certificates.sharing import live_status
from hub.context import HubContext
from hub.credentials import ob3, ob3keys, status
from hub.credentials.models import PROOF_DATA_INTEGRITY, PROOF_VC_JWT, StoredCredential
from hub.errors import NotFound, ValidationError
from hub.i18n import lazy as _l
from hub.web import close_db_session, db_session
from hub.web.security import link

bp = Blueprint("ob3", __name__)
# The page links the issuer's URL through the one link helper (http(s) only); registered by the
# blueprint too, so an app that mounts only this blueprint renders it.
bp.add_app_template_global(link, "link")
# Every route here reads the request's session (never committed: a GET writes nothing). The hub's app
# closes it at teardown; an app that mounts only this blueprint gets it closed here (a no-op after).
bp.teardown_request(close_db_session)

JSON_TYPES = ("application/vc+ld+json", "application/ld+json", "application/json")


def _ctx() -> HubContext:
    return current_app.extensions["hub"]


def _assertion(session, assertion_id: str) -> Assertion:
    a = session.scalars(select(Assertion).where(Assertion.public_id == assertion_id)).first()
    if a is None:
        raise NotFound(_l("no credential %(id)s", id=assertion_id))
    return a


def _json(doc: dict, media_type: str = "application/vc+ld+json") -> Response:
    return _json_text(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), media_type)


def _json_text(body: str, media_type: str = "application/vc+ld+json") -> Response:
    return Response(body, mimetype=media_type, headers={"Access-Control-Allow-Origin": "*"})


def _stored_text(assertion_id: str, proof_format: str) -> str | None:
    """The credential signed and stored at award time (:func:`hub.credentials.ob3.store_credentials`),
    in one indexed look-up by the public id, or None (no such award, or one made before credentials
    were stored: the caller falls back to :func:`hub.credentials.ob3.issue`)."""
    return db_session().scalar(
        select(StoredCredential.text)
        .join(Assertion, StoredCredential.assertion_id == Assertion.id)
        .where(Assertion.public_id == assertion_id, StoredCredential.proof_format == proof_format)
    )


def _json_download_requested() -> bool:
    fmt = request.args.get("format")
    if fmt is not None and fmt != "json":
        raise ValidationError(_l("format must be json"), field="format")
    return fmt == "json"


def _negotiated_json_type() -> str | None:
    best = request.accept_mimetypes.best_match(["text/html", *JSON_TYPES])
    if best == "text/html" and request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/json"]:
        return None
    return best if best in JSON_TYPES else JSON_TYPES[0]


@bp.get("/credentials/<assertion_id>")
def credential(assertion_id: str):
    """The credential with its Data Integrity proof (JSON), or its page for a browser (``credential.html``,
    in the visitor's language, Polish or English; an app without the hub's public blueprint, whose
    layout it uses, answers the JSON instead);
    ``?format=json``: the JSON as a download (``Content-Disposition: attachment``) whatever ``Accept``."""
    download = _json_download_requested()
    media = JSON_TYPES[0] if download else _negotiated_json_type()
    if media is None and "public" not in current_app.blueprints:
        media = JSON_TYPES[0]  # an app without the hub's pages (layout, translations): the JSON
    # The JSON is the bytes stored at award time, as they are (one look-up, no rebuilding or signing).
    text = _stored_text(assertion_id, PROOF_DATA_INTEGRITY) if media is not None else None
    ctx = _ctx()
    session = db_session()
    if text is None:
        a = _assertion(session, assertion_id)
        issued = ob3.issue(session, ctx, a, PROOF_DATA_INTEGRITY)
        text = issued.text
    if download:
        response = _json_text(text)
        response.headers["Content-Disposition"] = f'attachment; filename="credential-{assertion_id}.json"'
        return response
    if media is not None:
        return _json_text(text, media)
    term = issued.document["credentialSubject"]["achievement"].get("achievementType")
    return render_template(
        "credential.html",
        c=issued.document,
        a=a,
        status=live_status(a),
        achievement_type=achievement_type_label(term, gettext) if term and term != "Badge" else None,
        page_url=ctx.urls.assertion(assertion_id),
        json_url=ctx.urls.credential_json(assertion_id),
        jwt_url=ctx.urls.credential_jwt(assertion_id),
        baked_url=ctx.urls.credential_baked(assertion_id, "svg" if "svg" in a.badge_class.image_type else "png"),
    )


@bp.get("/credentials/<assertion_id>/jwt")
def credential_jwt(assertion_id: str):
    """The credential as a VC-JWT; ``?alg=RS256|ES256|EdDSA`` overrides the issuer's setting."""
    alg = request.args.get("alg") or None
    token = None if alg else _stored_text(assertion_id, PROOF_VC_JWT)
    if token is None:
        session = db_session()
        token = ob3.issue(session, _ctx(), _assertion(session, assertion_id), PROOF_VC_JWT, alg).text
    return Response(token, mimetype="text/plain", headers={"Access-Control-Allow-Origin": "*"})


@bp.get("/credentials/<assertion_id>/baked.<ext>")
def credential_baked(assertion_id: str, ext: str):
    """The badge image with the credential baked in; ``?format=ldp`` or ``jwt``, else the issuer's
    default proof format (:func:`hub.credentials.ob3keys.update_settings`)."""
    asked = request.args.get("format")
    fmt = {"ldp": PROOF_DATA_INTEGRITY, "jwt": PROOF_VC_JWT, None: None}.get(asked, "")
    if fmt == "":
        raise ValidationError(_l("format must be ldp or jwt"), field="format")
    ctx = _ctx()
    session = db_session()
    a = _assertion(session, assertion_id)
    badge = a.badge_class
    if {"png": "image/png", "svg": "image/svg+xml"}.get(ext) != badge.image_type:
        raise NotFound(_l("this badge image is %(type)s", type=badge.image_type))
    image = ob3.bake(badge.image, badge.image_type, ob3.issue(session, ctx, a, fmt))
    return Response(image, mimetype=badge.image_type)


@bp.get("/issuers/<issuer_id>/did.json")
def did_document(issuer_id: str):
    """The issuer's did:web DID document (every key it has, retired ones too; keys are made when the
    issuer is, never by this GET)."""
    ctx = _ctx()
    session = db_session()
    issuer = ob3keys.find_issuer(session, issuer_id)
    return _json(ob3keys.did_document(session, ctx, issuer), "application/did+json")


@bp.get("/issuers/<issuer_id>/status/<list_id>")
def status_list(issuer_id: str, list_id: str):
    """The signed BitstringStatusListCredential, made from the current revocations."""
    ctx = _ctx()
    session = db_session()
    sl = status.find_status_list(session, issuer_id, list_id)
    issuer = sl.issuer
    doc = status.status_list_credential_json(session, ctx, sl, ob3keys.issuer_id(session, ctx, issuer))
    signed = ob3.sign_data_integrity(session, ctx, issuer, doc)
    return _json(signed)


@bp.get("/issuers/<issuer_id>/status/<list_id>/jwt")
def status_list_jwt(issuer_id: str, list_id: str):
    """The same status list as a VC-JWT (``application/vc+jwt``; the ``statusListCredential`` of VC-JWT
    credentials), signed with the key of the DID document's first verification method."""
    ctx = _ctx()
    session = db_session()
    sl = status.find_status_list(session, issuer_id, list_id)
    issuer = sl.issuer
    doc = status.status_list_credential_json(session, ctx, sl, ob3keys.issuer_id(session, ctx, issuer), jwt=True)
    token = ob3.status_list_jwt(session, ctx, issuer, doc)
    return Response(token, mimetype="application/vc+jwt", headers={"Access-Control-Allow-Origin": "*"})


@bp.get("/issuers/<issuer_id>/revocations/1edtech")
def revocation_list_1edtech(issuer_id: str):
    """The issuer's 1EdTech Revocation List (ids of revoked OB 3.0 credentials)."""
    ctx = _ctx()
    session = db_session()
    issuer = ob3keys.find_issuer(session, issuer_id)
    doc = status.revocation_list_1edtech(session, ctx, issuer, ob3keys.issuer_id(session, ctx, issuer))
    return _json(doc, "application/json")


@bp.get("/contexts/<name>")
def hosted_context(name: str):
    """A JSON-LD context the hub ships (e.g. the micro-credential extension's), byte for byte as pinned
    (``application/ld+json``, cacheable: a versioned context never changes)."""
    from importlib import resources

    from hub.credentials.jsonld import hosted_contexts

    if name not in hosted_contexts():
        raise NotFound(_l("no context %(name)s", name=name))
    raw = (resources.files("hub.credentials") / "contexts" / name).read_bytes()
    return Response(
        raw,
        mimetype="application/ld+json",
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=86400"},
    )
