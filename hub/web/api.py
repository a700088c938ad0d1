"""JSON API, version 1 (``/api/v1``), documented by an OpenAPI 3.1 document generated from this code
with flask-smorest (https://flask-smorest.readthedocs.io/) and served at ``/api/v1/openapi.json``.

Authentication: ``Authorization: Bearer <token>`` with a per-user API token (made in the console under
"Your account"; scope ``read``, ``award`` or ``manage``), acting as its user, limited to that user's
issuers (:mod:`hub.accounts.access`). ``HUB_ADMIN_TOKEN``, when set, is a bootstrap token acting as a
site administrator (for automation before the first user exists). Lists are keyset-paginated
(``limit``, ``cursor`` → ``{"items": [...], "next": cursor | null}``). Errors are RFC 9457 problem JSON.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac
from typing import ClassVar

from flask import current_app, g, request
from flask_smorest import Api
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import fields, validate
from sqlalchemy import select

from hub.accounts import services as accounts
from hub.accounts.access import CONFIGURE, VIEW, Principal, current_principal
from hub.badges import services as badges
from hub.badges.models import BadgeClass, Issuer
from hub.connections import registry
from hub.context import current_context
from hub.credentials import ob3keys
from hub.credentials.models import DID_METHODS, JWT_ALGORITHMS, PROOF_FORMATS
from hub.errors import Unauthorized, ValidationError
from hub.i18n import lazy as _l
from hub.operations import actions
from hub.schemas import UUID, Pattern, base64_file, http_url, no_nul_attribute
from hub.schemas import ApiSchema as Base
from hub.timefmt import isoformat_z
from hub.web import api_contract, db_session
from hub.web.admin.paging import MAX_LIMIT, page
from hub.web.admin.scoping import load, scope

bp = ApiBlueprint("api_v1", __name__, url_prefix="/api/v1", description="Badge Hub JSON API, version 1")
PAGE_DOC = "Keyset pagination: pass the previous page's `next` as `cursor`."


class HubApi(Api):
    """flask-smorest without its own error handlers: the hub renders every error as RFC 9457 problem JSON
    (:mod:`hub.web.errors`), for the API and the HTML pages alike, and the document says so
    (:mod:`hub.web.api_contract`)."""

    ERROR_SCHEMA = api_contract.Problem

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        api_contract.register_responses(self)


def init_app(app) -> HubApi:
    """Register the API blueprint and its OpenAPI document (``/api/v1/openapi.json``) on ``app``."""
    app.config.setdefault("API_TITLE", "Badge Hub API")
    app.config.setdefault("API_VERSION", "1")
    app.config.setdefault("OPENAPI_VERSION", "3.1.0")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = HubApi(
        app,
        spec_kwargs={
            "servers": [{"url": app.extensions["hub"].settings.base_url}],
            "security": [{"bearer": []}],
            "extra_plugins": [api_contract.ProblemResponses(), api_contract.ObjectRules()],
        },
    )
    app.extensions["hub.api"] = api
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.ma_plugin.converter.add_attribute_function(no_nul_attribute)
    app.url_map.converters["public_id"] = api_contract.PublicIdConverter
    api.register_converter(api_contract.PublicIdConverter, api_contract.public_id_schema)
    app.extensions["hub.api_blueprints"] = set()
    from hub.web import api_awards, api_connectors  # noqa: F401  (their routes join bp before it is registered)

    mount(app, api, bp)
    # Connectors' API routes join the same document and the same authentication (DESIGN.md rule 4: the
    # hub finds them through the registry, never by name).
    for connector in registry.available().values():
        child = connector.api_blueprint()
        if child is not None:
            mount(app, api, child)
    app.before_request(_authenticate_api_request)
    return api


def mount(app, api: HubApi, blueprint: ApiBlueprint) -> None:
    """Add a flask-smorest ``blueprint`` to the API: its routes join ``/api/v1/openapi.json`` and are
    authenticated by bearer token like the API's own (``app.extensions["hub.api_blueprints"]``)."""
    api.register_blueprint(blueprint)
    app.extensions["hub.api_blueprints"].add(blueprint.name)


# ---- authentication and errors -------------------------------------------------------------------------


def _authenticate_api_request():
    if request.blueprint in current_app.extensions["hub.api_blueprints"]:
        request.max_content_length = current_context().settings.max_upload_bytes  # an image in base64
        _authenticate()
        api_contract.check_request()


def _authenticate():
    given = request.headers.get("Authorization", "")
    if not given.startswith("Bearer ") or not given[7:].strip():
        raise Unauthorized(_l("send Authorization: Bearer <API token>"))
    token = given[7:].strip()
    bootstrap = current_context().settings.admin_token
    if bootstrap and hmac.compare_digest(token.encode(), bootstrap.encode()):
        g.hub_principal = Principal(None, "HUB_ADMIN_TOKEN", site_admin=True, via="api")
        return
    session = db_session()
    row = accounts.resolve_api_token(session, token)
    if row is None:
        raise Unauthorized(_l("the API token is unknown, revoked, or its user is inactive"))
    session.commit()  # last_used_at
    g.hub_principal = Principal.for_user(row.user, scope=row.scope, via="api")


def me() -> Principal:
    """The caller (:func:`hub.accounts.access.current_principal`)."""
    return current_principal()


def _decode_image(value: str | None) -> bytes | None:
    if not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError(_l("image must be base64 (PNG or SVG bytes)"), field="image") from None


# ---- schemas -------------------------------------------------------------------------------------------


Text = fields.String
IMAGE_DOC = "a PNG or SVG file in base64 (422 `invalid-image` when it is neither)"
Opt = {"load_default": None, "allow_none": True}


class PageArgs(Base):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    cursor = Text(**Opt, validate=Pattern(UUID), metadata={"format": "uuid", "description": "a page's `next`"})


class IssuerOut(Base):
    id = Text()
    name = Text()
    url = Text()
    email = Text(allow_none=True)
    description = Text(allow_none=True)
    image_url = Text(allow_none=True)
    profile_url = Text()
    created_at = Text()


class IssuerIn(Base):
    name = Text(required=True, validate=validate.Length(1, 255))
    url = http_url(required=True)
    email = fields.Email(**Opt)
    description = Text(**Opt, validate=validate.Length(max=10_000))
    image = base64_file(IMAGE_DOC, **Opt)


class IssuerPatch(Base):
    name = Text(validate=validate.Length(1, 255))
    url = http_url()
    email = fields.Email(allow_none=True)
    description = Text(allow_none=True, validate=validate.Length(max=10_000))
    image = base64_file(IMAGE_DOC)


class CredentialSettings(Base):
    """How the issuer's Open Badges 3.0 credentials are made (``hub.credentials.ob3keys.update_settings``)."""

    # did:key asked with another algorithm is refused (422); with only one of them asked, the other as
    # stored may refuse it (409)
    object_rules: ClassVar[dict] = {
        "if": {"required": ["did_method"], "properties": {"did_method": {"const": "key"}}},
        "then": {"properties": {"jwt_algorithm": {"const": "EdDSA"}}},
    }

    did_method = Text(
        validate=validate.OneOf(DID_METHODS),
        metadata={"description": "web: did:web under the hub's URL (default); key: did:key of the Ed25519 key"},
    )
    proof_format = Text(
        validate=validate.OneOf(PROOF_FORMATS),
        metadata={"description": "default proof: data-integrity (eddsa-rdfc-2022, default) or vc-jwt"},
    )
    jwt_algorithm = Text(
        validate=validate.OneOf(JWT_ALGORITHMS),
        metadata={"description": "default VC-JWT alg (RS256 default); a did:key issuer: EdDSA only"},
    )


class CredentialSettingsOut(CredentialSettings):
    issuer_id = Text(metadata={"description": "the issuer's DID as credentials name it now"})
    did_document = Text(allow_none=True, metadata={"description": "URL of the DID document (did:web)"})


class Alignment(Base):
    targetName = Text(required=True)  # noqa: N815  (Open Badges 2.0 AlignmentObject names)
    targetUrl = http_url(required=True)  # noqa: N815
    targetDescription = Text()  # noqa: N815
    targetFramework = Text()  # noqa: N815
    targetCode = Text()  # noqa: N815


class BadgeClassOut(Base):
    id = Text()
    issuer = Text()
    name = Text()
    description = Text()
    image_url = Text()
    criteria_url = Text(allow_none=True)
    criteria_narrative = Text(allow_none=True)
    tags = fields.List(Text())
    alignments = fields.List(fields.Dict())
    expires_after_days = fields.Integer(allow_none=True)
    allow_multiple = fields.Boolean()
    public_url = Text()


class BadgeClassPatch(Base):
    name = Text(validate=validate.Length(1, 255))
    description = Text(validate=validate.Length(1, 10_000))
    image = base64_file(IMAGE_DOC)
    criteria_url = http_url(allow_none=True)
    criteria_narrative = Text(allow_none=True, validate=validate.Length(max=10_000))
    tags = fields.List(Text(validate=validate.Length(max=255)), validate=validate.Length(max=50))
    alignments = fields.List(fields.Nested(Alignment), validate=validate.Length(max=50))
    expires_after_days = fields.Integer(allow_none=True, validate=validate.Range(1, 36_500))
    allow_multiple = fields.Boolean()


class BadgeClassIn(BadgeClassPatch):
    issuer = Text(required=True)
    name = Text(required=True, validate=validate.Length(1, 255))
    description = Text(required=True, validate=validate.Length(1, 10_000))
    image = base64_file(IMAGE_DOC, required=True)


class BadgeClassArgs(PageArgs):
    issuer = Text(**Opt)


@functools.cache
def page_schema(item):
    """The schema of one page of ``item`` schemas: ``{"items": [item], "next": cursor | null}`` (one class
    per item schema, so the OpenAPI document names it once)."""
    return type(
        f"{item.__name__}Page", (Base,), {"items": fields.List(fields.Nested(item)), "next": Text(allow_none=True)}
    )


# ---- JSON shapes ---------------------------------------------------------------------------------------


def issuer_json(row: Issuer) -> dict:
    urls = current_context().urls
    return {
        "id": row.public_id,
        "name": row.name,
        "url": row.url,
        "email": row.email,
        "description": row.description,
        "image_url": urls.issuer_image(row.public_id) if row.image else None,
        "profile_url": urls.issuer(row.public_id),
        "created_at": isoformat_z(row.created_at),
    }


def badge_json(row: BadgeClass) -> dict:
    urls = current_context().urls
    return {
        "id": row.public_id,
        "issuer": row.issuer.public_id,
        "name": row.name,
        "description": row.description,
        "image_url": urls.badge_image(row.public_id),
        "criteria_url": row.criteria_url,
        "criteria_narrative": row.criteria_narrative,
        "tags": row.tags or [],
        "alignments": row.alignments or [],
        "expires_after_days": row.expires_after_days,
        "allow_multiple": row.allow_multiple,
        "public_url": urls.badge_class(row.public_id),
    }


def listing(query, model, args, shape, ascending=False):
    """One keyset page of ``query`` (``args``: ``limit``, ``cursor``), each row through ``shape``."""
    result = page(db_session(), query, model, limit=args["limit"], cursor=args.get("cursor"), ascending=ascending)
    return {"items": [shape(r) for r in result.items], "next": result.next}


# ---- issuers -------------------------------------------------------------------------------------------


@bp.get("/issuers")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(IssuerOut), description=PAGE_DOC)
def list_issuers(args):
    """Issuers you have a role at (all, for site administrators)."""
    query = select(Issuer).where(scope(me(), Issuer, VIEW)).order_by(Issuer.id.desc())
    return listing(query, Issuer, args, issuer_json)


@bp.post("/issuers")
@bp.arguments(IssuerIn)
@bp.response(201, IssuerOut)
def create_issuer(body):
    """Create an issuer with its signing key (site administrators)."""
    body["image"] = _decode_image(body.get("image"))
    row = actions.create_issuer(db_session(), current_context(), me(), **body)
    return issuer_json(row), 201


@bp.get("/issuers/<issuer_id>")
@bp.response(200, IssuerOut)
def get_issuer(issuer_id):
    return issuer_json(load(db_session(), me(), Issuer, issuer_id, VIEW))


@bp.patch("/issuers/<issuer_id>")
@bp.arguments(IssuerPatch)
@bp.response(200, IssuerOut)
def update_issuer(body, issuer_id):
    """Change an issuer's profile (issuer administrators)."""
    row = load(db_session(), me(), Issuer, issuer_id, CONFIGURE, write=True)
    image = _decode_image(body.pop("image", None))
    actions.update_issuer(db_session(), current_context(), me(), row, image=image, **body)
    return issuer_json(row)


@bp.get("/issuers/<issuer_id>/credential-settings")
@bp.response(200, CredentialSettingsOut)
def get_credential_settings(issuer_id):
    """The issuer's Open Badges 3.0 settings: DID method, default proof format, default VC-JWT algorithm."""
    row = load(db_session(), me(), Issuer, issuer_id, VIEW)
    return ob3keys.settings_json(db_session(), current_context(), row)


@bp.patch("/issuers/<issuer_id>/credential-settings")
@bp.arguments(CredentialSettings)
@bp.response(200, CredentialSettingsOut)
def update_credential_settings(body, issuer_id):
    """Change the issuer's Open Badges 3.0 settings (issuer administrators; audited). Keys left out keep
    their value; a did:key issuer's algorithm must be EdDSA (422 otherwise)."""
    row = load(db_session(), me(), Issuer, issuer_id, CONFIGURE, write=True)
    actions.set_credential_settings(db_session(), current_context(), me(), row, **body)
    return ob3keys.settings_json(db_session(), current_context(), row)


@bp.post("/issuers/<issuer_id>/rotate-key")
@bp.response(200, IssuerOut)
def rotate_issuer_key(issuer_id):
    """Give the issuer a new signing key; the old one stays published for verification."""
    row = load(db_session(), me(), Issuer, issuer_id, CONFIGURE, write=True)
    actions.rotate_issuer_key(db_session(), current_context(), me(), row)
    return issuer_json(row)


# ---- badge classes -------------------------------------------------------------------------------------


@bp.get("/badge-classes")
@bp.arguments(BadgeClassArgs, location="query")
@bp.response(200, page_schema(BadgeClassOut), description=PAGE_DOC)
def list_badge_classes(args):
    issuer_id = load(db_session(), me(), Issuer, args["issuer"], VIEW).id if args.get("issuer") else None
    query = badges.list_badge_classes(scope(me(), BadgeClass, VIEW), issuer_id=issuer_id)
    return listing(query, BadgeClass, args, badge_json)


@bp.post("/badge-classes")
@bp.arguments(BadgeClassIn)
@bp.response(201, BadgeClassOut)
def create_badge_class(body):
    issuer = load(db_session(), me(), Issuer, body.pop("issuer"), CONFIGURE, write=True)
    body["image"] = _decode_image(body["image"])
    row = actions.create_badge_class(db_session(), current_context(), me(), issuer, **body)
    return badge_json(row), 201


@bp.get("/badge-classes/<badge_id>")
@bp.response(200, BadgeClassOut)
def get_badge_class(badge_id):
    return badge_json(load(db_session(), me(), BadgeClass, badge_id, VIEW))


@bp.patch("/badge-classes/<badge_id>")
@bp.arguments(BadgeClassPatch)
@bp.response(200, BadgeClassOut)
def update_badge_class(body, badge_id):
    row = load(db_session(), me(), BadgeClass, badge_id, CONFIGURE, write=True)
    image = _decode_image(body.pop("image", None))
    actions.update_badge_class(db_session(), current_context(), me(), row, image=image, **body)
    return badge_json(row)
