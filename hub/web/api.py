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
from datetime import UTC

from flask import current_app, g, request
from flask_smorest import Api
from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import fields, validate
from sqlalchemy import select

from hub.accounts import services as accounts
from hub.accounts.access import AWARD, CONFIGURE, VIEW, Principal, current_principal
from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.connections import registry
from hub.connections import services as connections
from hub.connections.models import ConnectorConfig
from hub.context import current_context
from hub.errors import HubError, Unauthorized, ValidationError
from hub.i18n import lazy as _l
from hub.inbox import services as inbox
from hub.inbox.models import STATUSES, InboundEvent
from hub.learners import notifications
from hub.operations import actions
from hub.rules import services as rules
from hub.rules.models import AwardRule
from hub.schemas import ApiSchema as Base
from hub.timefmt import isoformat_z
from hub.web import db_session
from hub.web.admin.paging import MAX_LIMIT, page
from hub.web.admin.scoping import load, scope

bp = ApiBlueprint("api_v1", __name__, url_prefix="/api/v1", description="Badge Hub JSON API, version 1")
PAGE_DOC = "Keyset pagination: pass the previous page's `next` as `cursor`."


class HubApi(Api):
    """flask-smorest without its own error handlers: the hub renders every error as RFC 9457 problem JSON
    (:mod:`hub.web.errors`), for the API and the HTML pages alike."""

    def _register_error_handlers(self):
        pass


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
        },
    )
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    app.extensions["hub.api_blueprints"] = set()
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
Opt = {"load_default": None, "allow_none": True}


class PageArgs(Base):
    limit = fields.Integer(load_default=50, validate=validate.Range(1, MAX_LIMIT))
    cursor = Text(**Opt, validate=validate.Length(max=36))


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
    url = fields.Url(required=True)
    email = fields.Email(**Opt)
    description = Text(**Opt, validate=validate.Length(max=10_000))
    image = Text(**Opt, metadata={"description": "base64 of a PNG or SVG file"})


class IssuerPatch(Base):
    name = Text(validate=validate.Length(1, 255))
    url = fields.Url()
    email = fields.Email(allow_none=True)
    description = Text(allow_none=True, validate=validate.Length(max=10_000))
    image = Text(metadata={"description": "base64 of a PNG or SVG file"})


class Alignment(Base):
    targetName = Text(required=True)  # noqa: N815  (Open Badges 2.0 AlignmentObject names)
    targetUrl = fields.Url(required=True)  # noqa: N815
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
    image = Text(metadata={"description": "base64 of a PNG or SVG file"})
    criteria_url = fields.Url(allow_none=True)
    criteria_narrative = Text(allow_none=True, validate=validate.Length(max=10_000))
    tags = fields.List(Text(validate=validate.Length(max=255)), validate=validate.Length(max=50))
    alignments = fields.List(fields.Nested(Alignment), validate=validate.Length(max=50))
    expires_after_days = fields.Integer(allow_none=True, validate=validate.Range(1, 36_500))
    allow_multiple = fields.Boolean()


class BadgeClassIn(BadgeClassPatch):
    issuer = Text(required=True)
    name = Text(required=True, validate=validate.Length(1, 255))
    description = Text(required=True, validate=validate.Length(1, 10_000))
    image = Text(required=True, metadata={"description": "base64 of a PNG or SVG file"})


class BadgeClassArgs(PageArgs):
    issuer = Text(**Opt)


class AwardOut(Base):
    id = Text()
    url = Text()
    badge_class = Text()
    recipient = Text()
    recipient_name = Text(allow_none=True)
    issued_on = Text()
    expires = Text(allow_none=True)
    evidence = fields.List(fields.Dict())
    revoked = fields.Boolean()
    revocation_reason = Text(allow_none=True)
    created = fields.Boolean(metadata={"description": "false when the award existed already (idempotent)"})


class AwardIn(Base):
    badge_class = Text(required=True)
    email = fields.Email(required=True)
    name = Text(**Opt, validate=validate.Length(max=255))
    evidence_url = fields.Url(**Opt)
    narrative = Text(**Opt, validate=validate.Length(max=10_000))
    issued_on = fields.AwareDateTime(
        **Opt,
        default_timezone=UTC,
        metadata={"description": "default now; not in the future (5 minutes' clock skew allowed), else 422"},
    )
    source_key = Text(
        **Opt,
        validate=validate.Length(1, 200),
        metadata={"description": "your id of this award: sending it again never awards twice"},
    )
    notify = fields.Boolean(
        load_default=True,
        metadata={
            "description": "send the recipient the award e-mail with a claim link (default true); "
            "only for a new award, never when the award existed already"
        },
    )


class AwardBatchIn(Base):
    awards = fields.List(fields.Nested(AwardIn), required=True, validate=validate.Length(1, 500))


class AwardBatchOut(Base):
    items = fields.List(fields.Nested(AwardOut))


class AwardArgs(PageArgs):
    recipient = Text(**Opt, validate=validate.Length(max=320))
    badge_class = Text(**Opt)
    revoked = fields.Boolean(**Opt)


class RevokeIn(Base):
    reason = Text(required=True, validate=validate.Length(1, 1000))


class NotificationOut(Base):
    award = Text()
    to = Text()
    kind = Text(metadata={"description": "`resend` (sent again) or `award` (the first e-mail)"})
    status = Text(metadata={"description": "`sent`, or `pending` while the mail server does not answer"})
    queued_at = Text()
    sent_at = Text(allow_none=True)


class ConnectorOut(Base):
    id = Text()
    slug = Text()
    kind = Text()
    name = Text()
    issuer = Text(allow_none=True)
    enabled = fields.Boolean()
    config = fields.Dict()
    secrets = fields.Integer(metadata={"description": "secrets accepted now (more than 1 during a rotation)"})
    hook_url = Text()
    secret = Text(metadata={"description": "the new signing secret; returned once, on create and rotate"})


class ConnectorIn(Base):
    issuer = Text(**Opt, metadata={"description": "issuer id; omit for a site-level connector (site admins)"})
    slug = Text(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,63}$"))
    name = Text(required=True, validate=validate.Length(1, 255))
    mapping = fields.Dict(keys=Text(), values=Text(), required=True)
    example = fields.Dict(**Opt)


class ConnectorPatch(Base):
    name = Text(validate=validate.Length(1, 255))
    mapping = fields.Dict(keys=Text(), values=Text())
    example = fields.Dict(allow_none=True)
    enabled = fields.Boolean()


class TestEventIn(Base):
    body = fields.Dict(**Opt, metadata={"description": "payload to send; default: the connector's example"})


class RuleOut(Base):
    id = Text()
    connector = Text()
    badge_class = Text()
    event_type = Text()
    key = Text(allow_none=True)
    condition = Text(allow_none=True)
    enabled = fields.Boolean()


class RuleIn(Base):
    connector = Text(required=True)
    badge_class = Text(required=True)
    event_type = Text(required=True, validate=validate.Length(1, 128))
    key = Text(**Opt, validate=validate.Length(max=255))
    condition = Text(**Opt, validate=validate.Length(max=2000))


class RulePatch(Base):
    enabled = fields.Boolean(required=True)


class RuleArgs(PageArgs):
    connector = Text(**Opt)


class EventOut(Base):
    id = Text()
    connector = Text()
    external_id = Text()
    status = Text()
    reason = Text(allow_none=True)
    attempts = fields.Integer()
    received_at = Text()
    processed_at = Text(allow_none=True)
    body = Text()
    body_format = Text()
    history = fields.List(fields.Dict())


class EventArgs(PageArgs):
    status = Text(**Opt, validate=validate.OneOf(STATUSES))
    connector = Text(**Opt, metadata={"description": "connector slug"})
    since = fields.AwareDateTime(**Opt, default_timezone=UTC)
    until = fields.AwareDateTime(**Opt, default_timezone=UTC)
    before = Text(**Opt, metadata={"description": "older name of `cursor`"})


class ReplayIn(Base):
    events = fields.List(Text(), required=True, validate=validate.Length(1, 500))


class DryRunOut(Base):
    event_type = Text(allow_none=True)
    key = Text(allow_none=True)
    recipient = Text(allow_none=True)
    badge_classes = fields.List(Text())
    error = Text(allow_none=True)


@functools.cache
def _page_schema(item):
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


def award_json(row: Assertion, created: bool | None = None) -> dict:
    doc = {
        "id": row.public_id,
        "url": current_context().urls.assertion(row.public_id),
        "badge_class": row.badge_class.public_id,
        "recipient": row.recipient_plain,
        "recipient_name": row.recipient_name,
        "issued_on": isoformat_z(row.issued_on),
        "expires": isoformat_z(row.expires) if row.expires else None,
        "evidence": row.evidence or [],
        "revoked": row.revoked,
        "revocation_reason": row.revocation_reason,
    }
    if created is not None:
        doc["created"] = created
    return doc


def connector_json(row: ConnectorConfig, secret: str | None = None) -> dict:
    ctx = current_context()
    doc = {
        "id": row.public_id,
        "slug": row.slug,
        "kind": row.kind,
        "name": row.name,
        "issuer": row.issuer.public_id if row.issuer else None,
        "enabled": row.enabled,
        "config": row.config,
        "secrets": len(connections.connector_secrets(ctx, row)),
        "hook_url": f"{ctx.urls.base}/hooks/{row.slug}",
    }
    if secret:
        doc["secret"] = secret
    return doc


def rule_json(row: AwardRule) -> dict:
    return {
        "id": row.public_id,
        "connector": row.connector.public_id,
        "badge_class": row.badge_class.public_id,
        "event_type": row.event_type,
        "key": row.key,
        "condition": row.condition,
        "enabled": row.enabled,
    }


def event_json(event: InboundEvent, *, full: bool = False) -> dict:
    """An inbox event as the API shows it; ``full`` adds the body and the processing history."""
    doc = {
        "id": event.public_id,
        "connector": event.connector.slug,
        "external_id": event.external_id,
        "status": event.status,
        "reason": event.reason,
        "attempts": event.attempts,
        "received_at": isoformat_z(event.received_at),
        "processed_at": isoformat_z(event.processed_at) if event.processed_at else None,
    }
    if full:
        doc.update(body=event.body, body_format=event.body_format, history=event.history or [])
    return doc


def _listing(query, model, args, shape, ascending=False):
    result = page(db_session(), query, model, limit=args["limit"], cursor=args.get("cursor"), ascending=ascending)
    return {"items": [shape(r) for r in result.items], "next": result.next}


# ---- issuers -------------------------------------------------------------------------------------------


@bp.get("/issuers")
@bp.arguments(PageArgs, location="query")
@bp.response(200, _page_schema(IssuerOut), description=PAGE_DOC)
def list_issuers(args):
    """Issuers you have a role at (all, for site administrators)."""
    query = select(Issuer).where(scope(me(), Issuer, VIEW)).order_by(Issuer.id.desc())
    return _listing(query, Issuer, args, issuer_json)


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
@bp.response(200, _page_schema(BadgeClassOut), description=PAGE_DOC)
def list_badge_classes(args):
    issuer_id = load(db_session(), me(), Issuer, args["issuer"], VIEW).id if args.get("issuer") else None
    query = badges.list_badge_classes(scope(me(), BadgeClass, VIEW), issuer_id=issuer_id)
    return _listing(query, BadgeClass, args, badge_json)


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


# ---- awards --------------------------------------------------------------------------------------------


@bp.get("/awards")
@bp.arguments(AwardArgs, location="query")
@bp.response(200, _page_schema(AwardOut), description=PAGE_DOC)
def list_awards(args):
    badge_id = load(db_session(), me(), BadgeClass, args["badge_class"], VIEW).id if args.get("badge_class") else None
    query = badges.search_assertions(
        scope(me(), Assertion, VIEW),
        recipient=args.get("recipient"),
        badge_class_id=badge_id,
        revoked=args.get("revoked"),
    )
    return _listing(query, Assertion, args, award_json)


def _award(body: dict):
    badge = load(db_session(), me(), BadgeClass, body.pop("badge_class"), AWARD, write=True)
    return actions.award(db_session(), current_context(), me(), badge, **body)


@bp.post("/awards")
@bp.arguments(AwardIn)
@bp.response(201, AwardOut)
@bp.alt_response(200, schema=AwardOut, description="the award existed already (same source_key or once-only badge)")
def create_award(body):
    """Award a badge class to one person (idempotent on `source_key`). With `notify` (default true) the
    recipient gets the award e-mail, sent once the award is stored."""
    result = _award(body)
    return award_json(result.assertion, result.created), 201 if result.created else 200


@bp.post("/awards/batch")
@bp.arguments(AwardBatchIn)
@bp.response(200, AwardBatchOut)
def create_awards(body):
    """Award up to 500 at once, all or nothing (one transaction); each item's `notify` as for one award."""
    results = [_award(item) for item in body["awards"]]
    return {"items": [award_json(r.assertion, r.created) for r in results]}


@bp.get("/awards/<assertion_id>")
@bp.response(200, AwardOut)
def get_award(assertion_id):
    return award_json(load(db_session(), me(), Assertion, assertion_id, VIEW))


@bp.post("/awards/<assertion_id>/revoke")
@bp.arguments(RevokeIn)
@bp.response(200, AwardOut)
def revoke_award(body, assertion_id):
    """Revoke with a reason; the assertion stays published as revoked."""
    row = load(db_session(), me(), Assertion, assertion_id, AWARD, write=True)
    actions.revoke(db_session(), current_context(), me(), row, body["reason"])
    return award_json(row)


@bp.post("/awards/<assertion_id>/notification")
@bp.response(202, NotificationOut)
def resend_award_notification(assertion_id):
    """Send the award e-mail again, with a new claim link. Refused (409) for a revoked award or a
    recipient whose e-mail was erased; at most one e-mail per award per minute and five re-sends a day
    (429, `retry_after` in seconds)."""
    row = load(db_session(), me(), Assertion, assertion_id, AWARD, write=True)
    queued = actions.resend_notification(db_session(), me(), row)
    db_session().commit()  # the runner below must see the rows
    notifications.deliver(current_context(), [queued.id])
    db_session().refresh(queued)
    return {
        "award": row.public_id,
        "to": row.recipient_plain,
        "kind": queued.kind,
        "status": queued.status,
        "queued_at": isoformat_z(queued.created_at),
        "sent_at": isoformat_z(queued.sent_at) if queued.sent_at else None,
    }, 202


# ---- connectors and rules ------------------------------------------------------------------------------


def _connector(connector_id: str, *, write: bool = False) -> ConnectorConfig:
    row = load(db_session(), me(), ConnectorConfig, connector_id, CONFIGURE, write=write)
    if row.issuer_id is None:
        me().require_site_admin(write=write)
    return row


@bp.get("/connectors")
@bp.arguments(PageArgs, location="query")
@bp.response(200, _page_schema(ConnectorOut), description=PAGE_DOC)
def list_connectors(args):
    query = select(ConnectorConfig).where(scope(me(), ConnectorConfig, CONFIGURE)).order_by(ConnectorConfig.id.desc())
    return _listing(query, ConnectorConfig, args, connector_json)


@bp.post("/connectors")
@bp.arguments(ConnectorIn)
@bp.response(201, ConnectorOut)
def create_connector(body):
    """Create a webhook connector; the response carries its signing secret, once."""
    issuer = load(db_session(), me(), Issuer, body["issuer"], CONFIGURE, write=True) if body.get("issuer") else None
    row, secret = actions.create_connector(
        db_session(),
        current_context(),
        me(),
        issuer=issuer,
        slug=body["slug"],
        kind="webhooks",
        name=body["name"],
        config={"mapping": body["mapping"], "example": body.get("example")},
    )
    return connector_json(row, secret), 201


@bp.get("/connectors/<connector_id>")
@bp.response(200, ConnectorOut)
def get_connector(connector_id):
    return connector_json(_connector(connector_id))


@bp.patch("/connectors/<connector_id>")
@bp.arguments(ConnectorPatch)
@bp.response(200, ConnectorOut)
def update_connector(body, connector_id):
    row = _connector(connector_id, write=True)
    config = None
    if "mapping" in body or "example" in body:
        config = {**row.config, **{k: body.pop(k) for k in ("mapping", "example") if k in body}}
    actions.update_connector(db_session(), me(), row, config=config, **body)
    return connector_json(row)


@bp.post("/connectors/<connector_id>/rotate-secret")
@bp.response(200, ConnectorOut)
def rotate_connector_secret(connector_id):
    """A new secret (returned once); the previous ones keep verifying until `end-rotation`."""
    row = _connector(connector_id, write=True)
    secret = actions.rotate_connector_secret(db_session(), current_context(), me(), row)
    return connector_json(row, secret)


@bp.post("/connectors/<connector_id>/end-rotation")
@bp.response(200, ConnectorOut)
def end_connector_rotation(connector_id):
    row = _connector(connector_id, write=True)
    actions.end_rotation(db_session(), current_context(), me(), row)
    return connector_json(row)


@bp.post("/connectors/<connector_id>/test-event")
@bp.arguments(TestEventIn)
@bp.response(202, EventOut)
def send_test_event(body, connector_id):
    """Store a test event (the example payload, or `body`) and process it like a delivered one."""
    import json

    row = _connector(connector_id, write=True)
    payload = json.dumps(body["body"], ensure_ascii=False) if body.get("body") is not None else None
    event = actions.send_test_event(db_session(), me(), row, payload)
    db_session().commit()  # the runner below must see the rows
    current_app.extensions["hub.jobs"].enqueue(event.id)
    return event_json(event, full=True), 202


@bp.get("/rules")
@bp.arguments(RuleArgs, location="query")
@bp.response(200, _page_schema(RuleOut), description=PAGE_DOC)
def list_rules(args):
    connector_id = _connector(args["connector"]).id if args.get("connector") else None
    query = rules.list_rules(scope(me(), AwardRule, CONFIGURE), connector_id=connector_id)
    return _listing(query, AwardRule, args, rule_json, ascending=True)


@bp.post("/rules")
@bp.arguments(RuleIn)
@bp.response(201, RuleOut)
def create_rule(body):
    connector = _connector(body["connector"], write=True)
    badge = load(db_session(), me(), BadgeClass, body["badge_class"], CONFIGURE, write=True)
    row = actions.create_rule(
        db_session(),
        me(),
        connector,
        badge,
        event_type=body["event_type"],
        key=body.get("key"),
        condition=body.get("condition"),
    )
    return rule_json(row), 201


@bp.patch("/rules/<rule_id>")
@bp.arguments(RulePatch)
@bp.response(200, RuleOut)
def update_rule(body, rule_id):
    row = load(db_session(), me(), AwardRule, rule_id, CONFIGURE, write=True)
    actions.set_rule_enabled(db_session(), me(), row, body["enabled"])
    return rule_json(row)


@bp.delete("/rules/<rule_id>")
@bp.response(204)
def delete_rule(rule_id):
    row = load(db_session(), me(), AwardRule, rule_id, CONFIGURE, write=True)
    actions.delete_rule(db_session(), me(), row)
    return "", 204


# ---- events --------------------------------------------------------------------------------------------


@bp.get("/events")
@bp.arguments(EventArgs, location="query")
@bp.response(200, _page_schema(EventOut), description=PAGE_DOC)
def list_events(args):
    """Inbox events, newest first, of connectors you configure."""
    connector_id = None
    if slug := args.get("connector"):
        row = db_session().scalar(select(ConnectorConfig).where(ConnectorConfig.slug == slug))
        connector_id = row.id if row else -1
    query = inbox.list_events(
        scope(me(), InboundEvent, CONFIGURE),
        status=args.get("status"),
        connector_id=connector_id,
        since=args.get("since"),
        until=args.get("until"),
    )
    args["cursor"] = args.get("cursor") or args.get("before")
    return _listing(query, InboundEvent, args, event_json)


@bp.get("/events/<event_id>")
@bp.response(200, EventOut)
def get_event(event_id):
    return event_json(load(db_session(), me(), InboundEvent, event_id, CONFIGURE), full=True)


@bp.post("/events/<event_id>/replay")
@bp.response(202, EventOut)
def replay_event(event_id):
    """Process a stored event again with the current configuration."""
    event = load(db_session(), me(), InboundEvent, event_id, CONFIGURE, write=True)
    actions.replay_event(db_session(), me(), event)
    db_session().commit()  # the runner below must see the rows
    current_app.extensions["hub.jobs"].enqueue(event.id)
    return event_json(event), 202


@bp.post("/events/replay")
@bp.arguments(ReplayIn)
@bp.response(202, _page_schema(EventOut))
def replay_events(body):
    """Replay many events (all or none: every id must be yours and not being processed)."""
    session = db_session()
    rows = [load(session, me(), InboundEvent, i, CONFIGURE, write=True) for i in dict.fromkeys(body["events"])]
    for row in rows:
        actions.replay_event(session, me(), row)
    db_session().commit()  # the runner below must see the rows
    for row in rows:
        current_app.extensions["hub.jobs"].enqueue(row.id)
    return {"items": [event_json(r) for r in rows], "next": None}, 202


@bp.post("/events/<event_id>/dry-run")
@bp.response(200, DryRunOut)
def dry_run_event(event_id):
    """Which badge classes would this stored event earn under today's rules? Changes nothing."""
    event = load(db_session(), me(), InboundEvent, event_id, CONFIGURE)
    try:
        learning, earned = inbox.dry_run(db_session(), event)
    except HubError as exc:
        return {"event_type": None, "key": None, "recipient": None, "badge_classes": [], "error": exc.detail}
    return {
        "event_type": learning.event_type,
        "key": learning.key,
        "recipient": learning.recipient.email,
        "badge_classes": [b.public_id for b in earned],
        "error": None,
    }
