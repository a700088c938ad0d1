"""OpenID4VCI 1.0 endpoints (pre-authorized code flow): the hub is Credential Issuer and its own
Authorization Server. Spec: https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html

| route | what |
|---|---|
| ``GET /.well-known/openid-credential-issuer`` | Credential Issuer Metadata (§12.2) |
| ``GET /oid4vci/offers/<secret>`` | the Credential Offer (§4.1.3, by reference); 404 once used or expired |
| ``POST /oauth/token`` | the hub's one token endpoint (:mod:`hub.web.obapi`), pre-authorized code grant |
| ``POST /oid4vci/nonce`` | ``{"c_nonce": ...}`` (§7) |
| ``POST /oid4vci/credential`` | ``Authorization: Bearer``; JSON Credential Request (§8.2) |

Errors are the spec's OAuth-style JSON ``{"error": code, "error_description": text}`` (§6.3, §8.3.1.2),
in the request's language, with ``Cache-Control: no-store``; a missing or bad token is 401 with
``WWW-Authenticate: Bearer error="invalid_token"``. The offer, token, nonce and credential endpoints are
rate limited per client address (``HUB_WALLET_RATE_LIMIT``). The learner's side (the QR code on their
badge page) is :func:`hub.web.learner.wallet_offer`.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from hub.context import current_context
from hub.errors import NotFound
from hub.i18n import lazy as _l
from hub.operations import wallets as wallet_ops
from hub.wallets.services import WalletError, issuer_metadata
from hub.web import db_session
from hub.web.admin import limiter

bp = Blueprint("oid4vci", __name__)

#: Endpoints the wallet rate limit applies to (see :func:`hub.web.admin._not_limited`).
LIMITED_ENDPOINTS = frozenset({"oid4vci.credential_offer", "oid4vci.nonce", "oid4vci.credential"})


def rate_limit() -> str:
    """``HUB_WALLET_RATE_LIMIT`` of the running app (a Flask-Limiter limit string)."""
    return current_context().settings.wallet_rate_limit


def _json(doc: dict, status: int = 200, headers: dict | None = None) -> Response:
    response = jsonify(doc)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["Access-Control-Allow-Origin"] = "*"
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@bp.errorhandler(WalletError)
def _wallet_error(exc: WalletError):
    headers = {}
    if exc.status == 401:
        headers["WWW-Authenticate"] = f'Bearer error="{exc.code}"'
    return _json({"error": exc.code, "error_description": str(exc.description)}, exc.status, headers)


@bp.get("/.well-known/openid-credential-issuer")
def issuer_metadata_view():
    """Credential Issuer Metadata (:func:`hub.wallets.services.issuer_metadata`)."""
    return _json(issuer_metadata(current_context()))


@bp.get("/oid4vci/offers/<secret>")
@limiter.limit(rate_limit)
def credential_offer(secret: str):
    """The Credential Offer object; 404 (``invalid_request``) when unknown, expired or already used."""
    try:
        return _json(wallet_ops.offer_document(db_session(), current_context(), secret))
    except NotFound as exc:
        raise WalletError("invalid_request", exc.detail or _l("unknown credential offer"), 404) from None


def token_response() -> Response:
    """The Token Response to a pre-authorized code Token Request (OpenID4VCI 1.0 section 6), for the hub's
    one token endpoint (:func:`hub.web.obapi.token`): the access token, or the spec's error JSON
    (``invalid_grant`` for a used, expired or unknown code); rate limited as that endpoint is
    (``HUB_OBAPI_RATE_LIMIT``)."""
    try:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise WalletError("invalid_request", _l("the token request must be form-encoded"))
        return _json(wallet_ops.redeem_code(db_session(), current_context(), request.form.to_dict()))
    except WalletError as exc:
        return _wallet_error(exc)


@bp.post("/oid4vci/nonce")
@limiter.limit(rate_limit)
def nonce():
    """A fresh ``c_nonce`` for the next proof of possession."""
    return _json({"c_nonce": wallet_ops.new_nonce(db_session())})


@bp.post("/oid4vci/credential")
@limiter.limit(rate_limit)
def credential():
    """Credential Request (JSON) -> Credential Response ``{"credentials": [{"credential": ...}]}``."""
    authorization = request.headers.get("Authorization")
    body = request.get_json(silent=True) if request.mimetype == "application/json" else None
    return _json(wallet_ops.issue_credential(db_session(), current_context(), authorization, body))


def init_app(app) -> None:
    """Register the endpoints and their rate limit on ``app``."""
    app.register_blueprint(bp)
    app.extensions.setdefault("hub.limited_endpoints", set()).update(LIMITED_ENDPOINTS)
