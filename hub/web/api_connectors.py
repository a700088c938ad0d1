"""JSON API: webhook connectors, award rules and inbox events (``/api/v1/connectors``, ``/rules``,
``/events``), with test events, replay and dry run. Routes of :data:`hub.web.api.bp`, registered with it."""

from __future__ import annotations

import functools
from datetime import UTC

from marshmallow import fields, validate
from sqlalchemy import select

from hub.accounts.access import CONFIGURE
from hub.badges.models import BadgeClass, Issuer
from hub.connections import services as connections
from hub.connections.models import ConnectorConfig
from hub.context import current_context
from hub.errors import HubError
from hub.inbox import services as inbox
from hub.inbox.models import STATUSES, InboundEvent
from hub.operations import actions
from hub.rules import services as rules
from hub.rules.models import AwardRule
from hub.schemas import ApiSchema as Base
from hub.timefmt import isoformat_z
from hub.web import db_session
from hub.web.admin.scoping import load, scope
from hub.web.api import PAGE_DOC, Opt, PageArgs, Text, bp, listing, me, page_schema


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


# ---- connectors and rules ------------------------------------------------------------------------------


def _connector(connector_id: str, *, write: bool = False) -> ConnectorConfig:
    row = load(db_session(), me(), ConnectorConfig, connector_id, CONFIGURE, write=write)
    if row.issuer_id is None:
        me().require_site_admin(write=write)
    return row


@bp.get("/connectors")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(ConnectorOut), description=PAGE_DOC)
def list_connectors(args):
    query = select(ConnectorConfig).where(scope(me(), ConnectorConfig, CONFIGURE)).order_by(ConnectorConfig.id.desc())
    return listing(query, ConnectorConfig, args, connector_json)


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
@bp.arguments(TestEventIn, required=False)
@bp.response(202, EventOut)
def send_test_event(body, connector_id):
    """Store a test event (the example payload, or `body`) and process it like a delivered one."""
    import json

    row = _connector(connector_id, write=True)
    payload = json.dumps(body["body"], ensure_ascii=False) if body.get("body") is not None else None
    event = actions.send_test_event(db_session(), current_context(), me(), row, payload)
    return event_json(event, full=True), 202


@bp.get("/rules")
@bp.arguments(RuleArgs, location="query")
@bp.response(200, page_schema(RuleOut), description=PAGE_DOC)
def list_rules(args):
    connector_id = _connector(args["connector"]).id if args.get("connector") else None
    query = rules.list_rules(scope(me(), AwardRule, CONFIGURE), connector_id=connector_id)
    return listing(query, AwardRule, args, rule_json, ascending=True)


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
@bp.response(200, page_schema(EventOut), description=PAGE_DOC)
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
    return listing(query, InboundEvent, args, event_json)


@bp.get("/events/<public_id:event_id>")
@bp.response(200, EventOut)
def get_event(event_id):
    return event_json(load(db_session(), me(), InboundEvent, event_id, CONFIGURE), full=True)


@bp.post("/events/<event_id>/replay")
@bp.response(202, EventOut)
def replay_event(event_id):
    """Process a stored event again with the current configuration."""
    event = load(db_session(), me(), InboundEvent, event_id, CONFIGURE, write=True)
    actions.replay_event(db_session(), current_context(), me(), event)
    return event_json(event), 202


@bp.post("/events/replay")
@bp.arguments(ReplayIn)
@bp.response(202, page_schema(EventOut))
def replay_events(body):
    """Replay many events (all or none: every id must be yours and not being processed)."""
    session = db_session()
    rows = [load(session, me(), InboundEvent, i, CONFIGURE, write=True) for i in dict.fromkeys(body["events"])]
    for row in rows:
        actions.replay_event(session, current_context(), me(), row)
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
