"""The Open Badges API over HTTP, with its OAuth 2.0 authorisation server (Authlib).

Discovery:
    ``GET /.well-known/badgeconnect.json``: the Badge Connect manifest (OB 2.1, section 7.2 of
    https://www.imsglobal.org/spec/ob/v2p1/): ``apiBase`` ``/ims/ob/v2p1``, ``registrationUrl``,
    ``authorizationUrl``, ``tokenUrl``, ``scopesOffered``. ``GET /ims/ob/v3p0/discovery``: the OB 3.0
    ServiceDescriptionDocument (an OpenAPI 3.0 document, https://www.imsglobal.org/spec/ob/v3p0/#api).
OAuth 2.0 (JSON errors ``{"error": ..., "error_description": ...}`` as RFC 6749 section 5.2 says):
    ``POST /oauth/register`` (RFC 7591, open registration; 201 with ``client_id`` and ``client_secret``),
    ``GET|POST /oauth/authorize`` (the signed-in learner's consent page; authorization code, PKCE S256
    required, RFC 7636), ``POST /oauth/token`` (``authorization_code`` and ``refresh_token``; client
    secret by HTTP Basic or in the body; each refresh replaces both tokens), ``POST /oauth/revoke``
    (RFC 7009).
Resources (bearer token, RFC 6750; errors are RFC 9457 problem JSON with ``WWW-Authenticate``):
    OB 2.1 ``GET /ims/ob/v2p1/profile``, ``GET /ims/ob/v2p1/assertions`` (``limit``, ``offset``;
    ``X-Total-Count``), ``POST /ims/ob/v2p1/assertions`` (``{"assertion": <object | JWS | URL>}``);
    answers carry ``status: {error, statusCode, statusText}`` as Moodle's backpack client reads it.
    OB 3.0 ``GET|POST /ims/ob/v3p0/credentials`` (GetOpenBadgeCredentialsResponse
    ``{"credential": [...], "compactJwsString": [...]}``; POST a credential JSON or a VC-JWT as
    ``text/plain``: 201 new, 200 replaced), ``GET|PUT /ims/ob/v3p0/profile``.

Every endpoint but the consent page and the manifests is rate limited by ``HUB_OBAPI_RATE_LIMIT`` per
client address. Bodies above ``HUB_VERIFY_MAX_BYTES`` (+64 KiB) are refused (413).
"""

from __future__ import annotations

import logging

from authlib.common.security import generate_token
from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Blueprint, Flask, Response, current_app, jsonify, redirect, render_template, request, session

from hub.context import current_context
from hub.errors import BadRequest, Forbidden, HubError, Unauthorized, UnsupportedMediaType
from hub.i18n import lazy as _l
from hub.learners.models import Learner
from hub.obapi import services as obapi
from hub.obapi.models import OAuthToken
from hub.operations import obapi as obapi_ops
from hub.wallets.services import PRE_AUTHORIZED_GRANT
from hub.wallets.services import authorization_server_metadata as wallet_metadata
from hub.web import csrf, db_session, oid4vci
from hub.web.admin import limiter
from hub.web.boundary import body_limit
from hub.web.learner import NEXT_KEY, current_learner

bp = Blueprint("obapi", __name__)
log = logging.getLogger(__name__)

V2 = "/ims/ob/v2p1"
V3 = "/ims/ob/v3p0"
OK_STATUS = {"error": None, "statusCode": 200, "statusText": "OK"}
MAX_PAGE = 100


def rate_limit() -> str:
    """The ``HUB_OBAPI_RATE_LIMIT`` of the running app (a Flask-Limiter limit string)."""
    return current_context().settings.obapi_rate_limit


# ---- Authlib glue: grants and endpoints over hub.obapi.services ------------------------------------


class S256Required(CodeChallenge):
    """PKCE is required of every client, with ``S256`` only (RFC 7636 section 4.2; RFC 9700 2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge' (PKCE with S256 is required)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        return super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant, result):
        if not grant.request.form.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        return super().validate_code_verifier(grant, result)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def save_authorization_code(self, code, request):
        client = request.client
        data = request.payload.data
        return obapi.save_code(
            db_session(),
            client,
            request.user,
            code,
            redirect_uri=request.payload.redirect_uri or client.get_default_redirect_uri(),
            scope=client.get_allowed_scope(request.payload.scope),
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code, client):
        return obapi.find_code(db_session(), code, client)

    def delete_authorization_code(self, authorization_code):
        obapi.delete_code(db_session(), authorization_code)

    def authenticate_user(self, authorization_code):
        return db_session().get(Learner, authorization_code.learner_id)


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        row = obapi.token_by_refresh(db_session(), refresh_token)
        return row if row is not None and row.is_refresh_usable() else None

    def authenticate_user(self, refresh_token):
        return db_session().get(Learner, refresh_token.learner_id)

    def revoke_old_credential(self, refresh_token):
        obapi.revoke(db_session(), refresh_token)


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        s = db_session()
        if token_type_hint == "refresh_token":
            return obapi.token_by_refresh(s, token_string) or obapi.token_by_access(s, token_string)
        return obapi.token_by_access(s, token_string) or obapi.token_by_refresh(s, token_string)

    def revoke_token(self, token, request):
        obapi_ops.revoke_token(db_session(), token)


class Registration(ClientRegistrationEndpoint):
    """Open registration (Badge Connect hosts register themselves; RFC 7591 section 3)."""

    def authenticate_token(self, request):
        return True

    def get_server_metadata(self):
        return _server_metadata()

    def resolve_public_key(self, request):
        return None

    def generate_client_info(self, request):
        info = super().generate_client_info(request)
        info["client_id"], info["client_secret"] = obapi.new_client_credentials()
        return info

    def save_client(self, client_info, client_metadata, request):
        try:
            return obapi_ops.register_client(
                db_session(), dict(client_metadata), client_info["client_id"], client_info["client_secret"]
            )
        except HubError as exc:
            raise InvalidClientMetadata(str(exc)) from exc


class InvalidClientMetadata(OAuth2Error):
    error = "invalid_client_metadata"


class TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string):
        return obapi.token_by_access(db_session(), token_string)


def _query_client(client_id):
    return obapi.client_by_client_id(db_session(), client_id)


def _save_token(token, request):
    user = request.user
    obapi_ops.issue_token(db_session(), current_context().settings, request.client, user.id, token)


def _server_metadata() -> dict:
    base = current_context().settings.base_url
    doc = {
        "issuer": base,
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "registration_endpoint": f"{base}/oauth/register",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "scopes_supported": list(obapi.SCOPES),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
    }
    # one authorization server for both: OpenID4VCI wallets redeem pre-authorized codes at the same token endpoint
    for name, value in wallet_metadata().items():
        doc[name] = doc[name] + value if isinstance(value, list) else value
    return doc


protector = ResourceProtector()
protector.register_token_validator(TokenValidator())
EXTENSION = "hub.obapi.server"


def _access_seconds(client, grant_type) -> int:
    return current_context().settings.obapi_access_token_minutes * 60


def server() -> AuthorizationServer:
    """The running app's authorisation server (one per app: :func:`init_app`)."""
    return current_app.extensions[EXTENSION]


def init_app(app: Flask) -> None:
    """Set up an authorisation server for ``app`` (token lifetimes read from its settings when a token is
    made) and register the blueprint; its rate-limited endpoints join ``hub.limited_endpoints``."""
    auth = AuthorizationServer()
    auth.init_app(app, query_client=_query_client, save_token=_save_token)
    auth.scopes_supported = list(obapi.SCOPES)
    auth.register_token_generator(
        "default",
        BearerTokenGenerator(lambda **kw: generate_token(48), lambda **kw: generate_token(64), _access_seconds),
    )
    auth.register_grant(CodeGrant, [S256Required(required=True)])
    auth.register_grant(RefreshGrant)
    auth.register_endpoint(Revocation)
    auth.register_endpoint(Registration)
    app.extensions[EXTENSION] = auth
    app.register_blueprint(bp)
    app.extensions.setdefault("hub.limited_endpoints", set()).update(
        f"obapi.{name}"
        for name in ("register", "token", "revoke", "v2_profile", "v2_assertions", "v3_credentials", "v3_profile")
    )


# one badge per push (HUB_VERIFY_MAX_BYTES, as the backpack import), applied before the body is read
body_limit("obapi", lambda settings: settings.verify_max_bytes + 65536)


def _oauth_response(fn):
    """Authlib's protocol errors as RFC 6749 JSON (Authlib's own rendering)."""
    try:
        return fn()
    except OAuth2Error as error:
        return server().handle_error_response(None, error)


# ---- discovery --------------------------------------------------------------------------------


@bp.get("/.well-known/badgeconnect.json")
def manifest():
    """The Badge Connect manifest Moodle reads (``<base>/.well-known/badgeconnect.json``)."""
    base = current_context().settings.base_url
    meta = _server_metadata()
    return jsonify(
        {
            "@context": "https://w3id.org/openbadges/badgeconnect/v1",
            "id": f"{base}/.well-known/badgeconnect.json",
            "type": "BadgeConnectManifest",
            "badgeConnectAPI": [
                {
                    "name": current_context().settings.institution or "Badge Hub",
                    "image": f"{base}/static/logo.png",
                    "apiBase": base + V2,
                    "version": "v2p1",
                    "termsOfServiceUrl": f"{base}/me",
                    "privacyPolicyUrl": f"{base}/me",
                    # profile first: Moodle's login URL drops the first offered scope
                    "scopesOffered": [obapi.PROFILE_READ_V2, obapi.ASSERTION_READ, obapi.ASSERTION_CREATE],
                    "registrationUrl": meta["registration_endpoint"],
                    "authorizationUrl": meta["authorization_endpoint"],
                    "tokenUrl": meta["token_endpoint"],
                }
            ],
        }
    )


@bp.get("/.well-known/oauth-authorization-server")
def oauth_metadata():
    """RFC 8414 authorisation server metadata."""
    return jsonify(_server_metadata())


@bp.get(f"{V3}/discovery")
def v3_discovery():
    """The OB 3.0 ServiceDescriptionDocument (OpenAPI 3.0 with the ``x-imssf-*`` members)."""
    base = current_context().settings.base_url
    meta = _server_metadata()
    scopes = {s: str(obapi.SCOPE_TEXTS[s]) for s in obapi.SCOPES_V3P0}
    return jsonify(
        {
            "openapi": "3.0.1",
            "info": {
                "title": current_context().settings.institution or "Badge Hub",
                "version": "3.0",
                "termsOfService": f"{base}/me",
                "x-imssf-privacyPolicyUrl": f"{base}/me",
            },
            "servers": [{"url": base + V3}],
            "paths": {
                "/credentials": {
                    "get": {"security": [{"OAuth2ACG": [obapi.CREDENTIAL_READ]}]},
                    "post": {"security": [{"OAuth2ACG": [obapi.CREDENTIAL_UPSERT]}]},
                },
                "/profile": {
                    "get": {"security": [{"OAuth2ACG": [obapi.PROFILE_READ_V3]}]},
                    "put": {"security": [{"OAuth2ACG": [obapi.PROFILE_UPDATE_V3]}]},
                },
            },
            "components": {
                "securitySchemes": {
                    "OAuth2ACG": {
                        "type": "oauth2",
                        "x-imssf-registrationUrl": meta["registration_endpoint"],
                        "flows": {
                            "authorizationCode": {
                                "authorizationUrl": meta["authorization_endpoint"],
                                "tokenUrl": meta["token_endpoint"],
                                "refreshUrl": meta["token_endpoint"],
                                "scopes": scopes,
                            }
                        },
                    }
                }
            },
        }
    )


# ---- OAuth 2.0 endpoints ------------------------------------------------------------------------


@bp.post("/oauth/register")
@limiter.limit(rate_limit)
def register():
    """RFC 7591 Dynamic Client Registration; members of the wrong type or with text the hub cannot store
    are ``invalid_client_metadata`` (400) before Authlib reads them."""
    try:
        obapi.check_client_metadata(request.get_json(silent=True))
    except HubError as exc:
        return server().handle_error_response(None, InvalidClientMetadata(str(exc)))
    return _oauth_response(lambda: server().create_endpoint_response("client_registration"))


@bp.post("/oauth/token")
@limiter.limit(rate_limit)
def token():
    """The hub's one token endpoint (RFC 6749 section 3.2): authorization code and refresh token grants
    (Authlib), and OpenID4VCI's pre-authorized code grant (:func:`hub.web.oid4vci.token_response`)."""
    if request.form.get("grant_type") == PRE_AUTHORIZED_GRANT:
        return oid4vci.token_response()
    return server().create_token_response()


@bp.post("/oauth/revoke")
@limiter.limit(rate_limit)
def revoke():
    return server().create_endpoint_response("revocation")


@bp.route("/oauth/authorize", methods=["GET", "POST"])
def authorize():
    """GET: the consent page for the signed-in learner (others sign in first and come back); POST
    (``decision`` = ``allow`` | ``deny``, CSRF token): redirect to the client with a code or
    ``error=access_denied``. A request naming an unknown client or a redirect URI it did not register
    is answered here (400), never redirected (RFC 6749 section 4.1.2.1)."""
    learner = current_learner()
    ctx = current_context()
    if learner is None:
        session[NEXT_KEY] = request.full_path if request.method == "GET" else None
        return redirect(ctx.urls.learner_home() + "/login", 303)
    try:
        grant = server().get_consent_grant(end_user=learner)
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            # the client and its redirect URI are known: it is told (RFC 6749 section 4.1.2.1), with state
            log.info("authorize: %s sent back to the client", error.error)
            return server().handle_error_response(None, error)
        return render_template("learner/consent.html", error=error, client=None), 400
    if request.method == "GET":
        # one line per permission: the OB 2.1 and 3.0 scopes for one thing read the same
        permissions: dict[str, list[str]] = {}
        for s in obapi.scope_list(grant.client.get_allowed_scope(grant.request.payload.scope)):
            permissions.setdefault(str(obapi.SCOPE_TEXTS[s]), []).append(s)
        return render_template(
            "learner/consent.html", error=None, client=grant.client, permissions=permissions, learner=learner
        )
    csrf.protect()
    allowed = request.form.get("decision") == "allow"
    s = db_session()
    obapi_ops.record_consent(s, learner, grant.client, grant.request.payload.scope or "", allowed)
    # a redirect (302) either way: the request boundary commits the code and the audit entry
    return server().create_authorization_response(grant_user=learner if allowed else None, grant=grant)


# ---- resources ----------------------------------------------------------------------------------


class InsufficientScope(Forbidden):
    slug = "insufficient-scope"


def _bearer(scope: str) -> tuple[Learner, OAuthToken]:
    """The learner and token of the request's bearer token holding ``scope``.

    Raises:
        Unauthorized: no token, or an unknown, expired or revoked one (``WWW-Authenticate: Bearer
            error="invalid_token"``).
        InsufficientScope: the token was not granted ``scope`` (403, ``error="insufficient_scope"``).
    """
    try:
        tok = protector.acquire_token([scope])
    except OAuth2Error as error:
        params = f'Bearer realm="badgehub", error="{error.error}"' if error.error else 'Bearer realm="badgehub"'
        if error.error == "insufficient_scope":
            exc: HubError = InsufficientScope(_l("this token was not granted %(scope)s", scope=scope), scope=scope)
        elif error.error == "missing_authorization":
            exc = Unauthorized(_l("send an OAuth 2.0 bearer token"))
            params = 'Bearer realm="badgehub"'
        else:
            exc = Unauthorized(_l("the access token is unknown, expired or revoked"))
        exc.headers = {"WWW-Authenticate": params}  # type: ignore[attr-defined]
        raise exc from None
    learner = db_session().get(Learner, tok.learner_id)
    if learner is None:
        raise Unauthorized(_l("the access token is unknown, expired or revoked"))
    return learner, tok


def _page() -> tuple[int, int]:
    try:
        limit = int(request.args.get("limit", MAX_PAGE))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise BadRequest(_l("limit and offset must be whole numbers")) from None
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise BadRequest(_l("limit must be 1 to %(max)d and offset 0 or more", max=MAX_PAGE))
    return limit, offset


def _paged(body: dict, total: int, limit: int, offset: int):
    resp = jsonify(body)
    resp.headers["X-Total-Count"] = str(total)
    links = []
    if offset + limit < total:
        links.append(f'<{request.base_url}?limit={limit}&offset={offset + limit}>; rel="next"')
    if offset > 0:
        links.append(f'<{request.base_url}?limit={limit}&offset={max(0, offset - limit)}>; rel="prev"')
    if links:
        resp.headers["Link"] = ", ".join(links)
    return resp


def _json_body() -> object:
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest(_l("the body must be JSON"))
    return data


@bp.get(f"{V2}/profile")
@limiter.limit(rate_limit)
def v2_profile():
    learner, _tok = _bearer(obapi.PROFILE_READ_V2)
    doc = obapi.profile_of(learner, current_context().urls.portfolio(learner.public_id), ob3=False)
    return jsonify({"status": OK_STATUS, "results": [doc]})


@bp.route(f"{V2}/assertions", methods=["GET", "POST"])
@limiter.limit(rate_limit)
def v2_assertions():
    """GET: the learner's OB 2.0 badges; POST ``{"assertion": ...}``: add one (Moodle's "Add to
    backpack"). Errors keep RFC 9457's members and add ``error`` (English) for Moodle's message."""
    if request.method == "GET":
        learner, _tok = _bearer(obapi.ASSERTION_READ)
        limit, offset = _page()
        items, total = obapi.badges_of(db_session(), learner, ob3=False, limit=limit, offset=offset)
        return _paged({"status": OK_STATUS, "results": items}, total, limit, offset)
    learner, _tok = _bearer(obapi.ASSERTION_CREATE)
    try:
        body = _json_body()
        badge = body.get("assertion") if isinstance(body, dict) else None
        row, verdict = obapi_ops.push_badge(db_session(), current_context(), learner, badge)
    except HubError as exc:
        exc.extra.setdefault("error", str(exc))
        raise
    return jsonify({"status": OK_STATUS, "results": [row.document], "verification": verdict.state})


@bp.route(f"{V3}/credentials", methods=["GET", "POST"])
@limiter.limit(rate_limit)
def v3_credentials():
    """GET: GetOpenBadgeCredentialsResponse; POST: upsert one credential (JSON, or a VC-JWT as
    ``text/plain``), 201 when new, 200 when it replaced the same credential."""
    s = db_session()
    if request.method == "GET":
        learner, _tok = _bearer(obapi.CREDENTIAL_READ)
        limit, offset = _page()
        items, total = obapi.badges_of(s, learner, ob3=True, limit=limit, offset=offset)
        body = {
            "compactJwsString": [i for i in items if isinstance(i, str)],
            "credential": [i for i in items if isinstance(i, dict)],
        }
        return _paged(body, total, limit, offset)
    learner, _tok = _bearer(obapi.CREDENTIAL_UPSERT)
    kind = request.mimetype
    if kind == "application/json":
        badge: object = _json_body()
    elif kind == "text/plain":
        badge = request.get_data(as_text=True).strip()
    else:
        raise UnsupportedMediaType(_l("send application/json or text/plain"))
    before = obapi.imported_count(s, learner)
    row, _verdict = obapi_ops.push_badge(s, current_context(), learner, badge)
    created = obapi.imported_count(s, learner) > before
    if isinstance(badge, str):
        resp = Response(badge, mimetype="text/plain")
    else:
        resp = jsonify(row.document)
    resp.status_code = 201 if created else 200
    return resp


@bp.route(f"{V3}/profile", methods=["GET", "PUT"])
@limiter.limit(rate_limit)
def v3_profile():
    s = db_session()
    if request.method == "PUT":
        learner, _tok = _bearer(obapi.PROFILE_UPDATE_V3)
        body = _json_body()
        if not isinstance(body, dict):
            raise BadRequest(_l("the body must be a Profile object"))
        obapi.update_profile(s, learner, body)
    else:
        learner, _tok = _bearer(obapi.PROFILE_READ_V3)
    return jsonify(obapi.profile_of(learner, current_context().urls.portfolio(learner.public_id), ob3=True))


# ---- the learner's connected applications ------------------------------------------------------


@bp.post("/me/connections/<public_id>/delete")
def disconnect(public_id: str):
    learner = current_learner()
    if learner is None:
        return redirect(current_context().urls.learner_home() + "/login", 303)
    csrf.protect()
    s = db_session()
    obapi_ops.disconnect(s, learner, public_id)
    s.flush()
    return redirect(current_context().urls.learner_home() + "#connections", 303)


def connections(learner: Learner) -> list[obapi.Connection]:
    """For the learner's /me page."""
    return obapi.connections_of(db_session(), learner)
