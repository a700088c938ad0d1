"""JSON API for development paths (``/api/v1/paths``) and outgoing webhooks (``/api/v1/webhooks``):
flask-smorest blueprints in the hub's OpenAPI document, authenticated like :mod:`hub.web.api`, over
:mod:`hub.operations.paths` and :mod:`hub.operations.webhooks`.

Who may: ``view`` at the issuer to read a path, ``configure`` to change it and for everything about
webhook subscriptions. A new subscription's ``secret`` is in the 201 answer only (and a rotation's).
"""

from __future__ import annotations

from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import fields, validate
from sqlalchemy import select

from hub.accounts.access import CONFIGURE, VIEW
from hub.badges.models import BadgeClass, Issuer
from hub.context import HubContext, current_context
from hub.errors import NotFound
from hub.i18n import lazy as _l
from hub.operations import paths as path_ops
from hub.operations import webhooks as hooks
from hub.outgoing.models import EVENT_TYPES, STATUSES, WebhookDelivery, WebhookSubscription
from hub.paths import services as paths
from hub.paths.models import Path, PathCompletion, PathGroup, PathStep
from hub.schemas import http_url
from hub.timefmt import isoformat_z
from hub.web import db_session
from hub.web.admin.scoping import load, scope
from hub.web.api import PAGE_DOC, Base, Opt, PageArgs, Text, listing, me, page_schema

bp = ApiBlueprint("api_v1_paths", __name__, url_prefix="/api/v1/paths", description="Development paths")
hooks_bp = ApiBlueprint("api_v1_webhooks", __name__, url_prefix="/api/v1/webhooks", description="Outgoing webhooks")


# ---- shapes -----------------------------------------------------------------------------------------


def step_json(ctx: HubContext, step: PathStep) -> dict:
    badge = step.badge_class
    return {
        "id": step.id,
        "badge_class": badge.public_id if badge else None,
        "badge_url": ctx.urls.badge_class(badge.public_id) if badge else None,
        "name": step.badge_name,
        "required": step.required,
        "group": step.group.name if step.group else None,
        "deleted": badge is None,
    }


def path_json(path: Path, ctx: HubContext | None = None) -> dict:
    """A path as the API shows it (also the public page's JSON)."""
    ctx = ctx or current_context()
    return {
        "id": path.public_id,
        "url": ctx.urls.path(path.public_id),
        "issuer": path.completion_badge.issuer.public_id,
        "name": path.name,
        "description": path.description,
        "ordered": path.ordered,
        "accept_other_issuers": path.accept_other_issuers,
        "completion_badge": path.completion_badge.public_id,
        "steps": [step_json(ctx, s) for s in path.steps],
        "groups": [{"id": g.id, "name": g.name, "need": g.need} for g in path.groups],
    }


def progress_json(ctx: HubContext, state: paths.Progress) -> dict:
    """A learner's progress: ``complete``, ``done``/``needed``, each step's ``state``, ``next``."""
    return {
        "path": state.path.public_id,
        "complete": state.complete,
        "done": state.done,
        "needed": state.needed,
        "steps": [
            {
                **step_json(ctx, s.step),
                "state": s.state,
                "assertion": s.assertion.public_id if s.assertion is not None else None,
                "expires": isoformat_z(s.expires) if s.expires else None,
            }
            for s in state.steps
        ],
        "next": [s.step.badge_name for s in state.next],
    }


class StepOut(Base):
    id = fields.Integer()
    badge_class = Text(allow_none=True)
    badge_url = Text(allow_none=True)
    name = Text()
    required = fields.Boolean()
    group = Text(allow_none=True)
    deleted = fields.Boolean()


class GroupOut(Base):
    id = fields.Integer()
    name = Text()
    need = fields.Integer()


class PathOut(Base):
    id = Text()
    url = Text()
    issuer = Text()
    name = Text()
    description = Text(allow_none=True)
    ordered = fields.Boolean()
    accept_other_issuers = fields.Boolean()
    completion_badge = Text()
    steps = fields.List(fields.Nested(StepOut))
    groups = fields.List(fields.Nested(GroupOut))


class PathIn(Base):
    issuer = Text(required=True)
    name = Text(required=True, validate=validate.Length(1, 255))
    description = Text(**Opt, validate=validate.Length(max=5000))
    completion_badge = Text(required=True, metadata={"description": "badge class id"})
    ordered = fields.Boolean(load_default=False)
    accept_other_issuers = fields.Boolean(load_default=False)


class PathPatch(Base):
    name = Text(validate=validate.Length(1, 255))
    description = Text(allow_none=True, validate=validate.Length(max=5000))
    completion_badge = Text()
    ordered = fields.Boolean()
    accept_other_issuers = fields.Boolean()


class StepIn(Base):
    badge_class = Text(required=True)
    required = fields.Boolean(load_default=True)
    group = fields.Integer(**Opt, metadata={"description": "a group id of this path"})


class GroupIn(Base):
    name = Text(required=True, validate=validate.Length(1, 255))
    need = fields.Integer(required=True, validate=validate.Range(1, 1000))


class ProgressArgs(Base):
    email = fields.Email(required=True)


class DecisionIn(Base):
    recipient = fields.Email(required=True)
    decision = Text(required=True, validate=validate.OneOf(["keep", "revoke"]))
    reason = Text(**Opt, validate=validate.Length(max=2000))


def _badge(public_id: str, field: str = "badge_class") -> BadgeClass:
    """The badge class a body names by its id (any issuer's: a path may accept other issuers' badges).

    Raises:
        NotFound: no such badge class (404, ``field`` names the body's member, as for every id the API
            is given that names nothing: :mod:`hub.web.api_contract`).
    """
    row = db_session().scalar(select(BadgeClass).where(BadgeClass.public_id == public_id))
    if row is None:
        raise NotFound(_l("no such badge class"), field=field)
    return row


def _path(path_id: str, ability: str = VIEW) -> Path:
    return load(db_session(), me(), Path, path_id, ability, write=ability == CONFIGURE)


# ---- paths ----------------------------------------------------------------------------------------------


@bp.get("")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(PathOut), description=PAGE_DOC)
def list_paths(args):
    """Paths of the issuers you may view."""
    return listing(select(Path).where(scope(me(), Path, VIEW)).order_by(Path.id.desc()), Path, args, path_json)


@bp.post("")
@bp.arguments(PathIn)
@bp.response(201, PathOut)
def create_path(body):
    issuer = load(db_session(), me(), Issuer, body.pop("issuer"), CONFIGURE, write=True)
    body["completion_badge"] = _badge(body["completion_badge"], "completion_badge")
    return path_json(path_ops.create_path(db_session(), current_context(), me(), issuer, **body)), 201


@bp.get("/<path_id>")
@bp.response(200, PathOut)
def get_path(path_id):
    return path_json(_path(path_id))


@bp.patch("/<path_id>")
@bp.arguments(PathPatch)
@bp.response(200, PathOut)
def update_path(body, path_id):
    path = _path(path_id, CONFIGURE)
    if "completion_badge" in body:
        body["completion_badge"] = _badge(body["completion_badge"], "completion_badge")
    path_ops.update_path(db_session(), current_context(), me(), path, **body)
    return path_json(path)


@bp.delete("/<path_id>")
@bp.response(204)
def delete_path(path_id):
    path_ops.delete_path(db_session(), me(), _path(path_id, CONFIGURE))


@bp.post("/<path_id>/steps")
@bp.arguments(StepIn)
@bp.response(201, PathOut)
def add_step(body, path_id):
    """Add a step (422 problem JSON for a cycle, another issuer's badge not accepted, a repeat)."""
    path = _path(path_id, CONFIGURE)
    group = db_session().get(PathGroup, body["group"]) if body.get("group") else None
    if body.get("group") and (group is None or group.path_id != path.id):
        raise NotFound(_l("no such group"), field="group")
    path_ops.add_step(db_session(), me(), path, _badge(body["badge_class"]), required=body["required"], group=group)
    return path_json(path), 201


@bp.delete("/<path_id>/steps/<int:step_id>")
@bp.response(200, PathOut)
def remove_step(path_id, step_id):
    path = _path(path_id, CONFIGURE)
    step = db_session().get(PathStep, step_id)
    if step is None or step.path_id != path.id:  # the address names no step of this path
        raise NotFound(_l("no such step"), field="step_id")
    path_ops.remove_step(db_session(), me(), path, step)
    return path_json(path)


@bp.post("/<path_id>/groups")
@bp.arguments(GroupIn)
@bp.response(201, PathOut)
def add_group(body, path_id):
    path = _path(path_id, CONFIGURE)
    path_ops.add_group(db_session(), me(), path, **body)
    return path_json(path), 201


@bp.get("/<path_id>/progress")
@bp.arguments(ProgressArgs, location="query")
def get_progress(args, path_id):
    """A learner's progress on the path (done, missing, expired, next)."""
    path = _path(path_id)
    return progress_json(current_context(), paths.progress(db_session(), path, args["email"]))


@bp.get("/<path_id>/completions")
def list_completions(path_id):
    """Learners who completed the path; ``attention`` says why one waits for a decision."""
    path = _path(path_id)
    rows = db_session().scalars(
        select(PathCompletion).where(PathCompletion.path_id == path.id).order_by(PathCompletion.id)
    )
    return {
        "items": [
            {"recipient": c.recipient, "attention": c.attention, "created_at": isoformat_z(c.created_at)} for c in rows
        ]
    }


@bp.post("/<path_id>/completions/decide")
@bp.arguments(DecisionIn)
def decide(body, path_id):
    """Keep or revoke the completion badge of a learner whose step badge was revoked."""
    path = _path(path_id, CONFIGURE)
    completion = paths.completion_of(db_session(), path, body["recipient"])
    if completion is None:
        raise NotFound(_l("this learner has not completed the path"), field="recipient")
    path_ops.resolve_completion(db_session(), current_context(), me(), completion, body["decision"], body.get("reason"))
    return {"recipient": completion.recipient, "attention": None}


# ---- webhooks -----------------------------------------------------------------------------------------


def subscription_json(sub: WebhookSubscription) -> dict:
    return {
        "id": sub.public_id,
        "issuer": sub.issuer.public_id,
        "url": sub.url,
        "description": sub.description,
        "events": list(sub.events or []),
        "active": sub.active,
        "disabled_reason": sub.disabled_reason,
        "created_at": isoformat_z(sub.created_at),
    }


def delivery_json(d: WebhookDelivery) -> dict:
    return {
        "id": d.public_id,
        "webhook_id": "msg_" + d.public_id.replace("-", ""),
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "next_attempt_at": isoformat_z(d.next_attempt_at) if d.status == "pending" else None,
        "delivered_at": isoformat_z(d.delivered_at) if d.delivered_at else None,
        "created_at": isoformat_z(d.created_at),
        "body": d.payload,
    }


class SubscriptionOut(Base):
    id = Text()
    issuer = Text()
    url = Text()
    description = Text(allow_none=True)
    events = fields.List(Text(metadata={"enum": list(EVENT_TYPES)}))
    active = fields.Boolean()
    disabled_reason = Text(allow_none=True)
    created_at = Text()
    secret = Text(metadata={"description": "the whsec_ signing secret: in a create or rotate answer only"})


#: A subscription's URL: http(s) in the document; the hub takes https:// only unless
#: ``HUB_WEBHOOK_ALLOW_PRIVATE_HOSTS`` (development) is set, and a host resolving to public addresses
#: only, which no schema can say (``hub.outgoing.services.check_subscription_url``: 422, ``field: url``).
_URL_DOC = (
    "an https:// URL (http:// too with HUB_WEBHOOK_ALLOW_PRIVATE_HOSTS) whose host resolves to public addresses "
    "only (422, `field: url`, otherwise)"
)


class SubscriptionIn(Base):
    issuer = Text(required=True)
    url = http_url(required=True, max_length=2048, metadata={"description": _URL_DOC})
    events = fields.List(Text(validate=validate.OneOf(EVENT_TYPES)), required=True, validate=validate.Length(min=1))
    description = Text(**Opt, validate=validate.Length(max=255))


class SubscriptionPatch(Base):
    url = http_url(max_length=2048, metadata={"description": _URL_DOC})
    events = fields.List(Text(validate=validate.OneOf(EVENT_TYPES)), validate=validate.Length(min=1))
    description = Text(allow_none=True, validate=validate.Length(max=255))
    active = fields.Boolean()


class DeliveryOut(Base):
    id = Text()
    webhook_id = Text()
    event_type = Text()
    status = Text(metadata={"enum": list(STATUSES)})
    attempts = fields.Integer()
    last_status = fields.Integer(allow_none=True)
    last_error = Text(allow_none=True)
    next_attempt_at = Text(allow_none=True)
    delivered_at = Text(allow_none=True)
    created_at = Text()
    body = fields.Dict()


class DeliveryArgs(PageArgs):
    status = Text(**Opt, validate=validate.OneOf(STATUSES))


def _sub(sub_id: str) -> WebhookSubscription:
    return load(db_session(), me(), WebhookSubscription, sub_id, CONFIGURE)


@hooks_bp.get("")
@hooks_bp.arguments(PageArgs, location="query")
@hooks_bp.response(200, page_schema(SubscriptionOut), description=PAGE_DOC)
def list_subscriptions(args):
    query = select(WebhookSubscription).where(scope(me(), WebhookSubscription, CONFIGURE))
    return listing(query.order_by(WebhookSubscription.id.desc()), WebhookSubscription, args, subscription_json)


@hooks_bp.post("")
@hooks_bp.arguments(SubscriptionIn)
@hooks_bp.response(201, SubscriptionOut)
def create_subscription(body):
    """Subscribe; the answer carries the ``whsec_`` secret, shown only this once."""
    issuer = load(db_session(), me(), Issuer, body.pop("issuer"), CONFIGURE, write=True)
    sub, secret = hooks.subscribe(db_session(), current_context(), me(), issuer, **body)
    return {**subscription_json(sub), "secret": secret}, 201


@hooks_bp.get("/<sub_id>")
@hooks_bp.response(200, SubscriptionOut)
def get_subscription(sub_id):
    return subscription_json(_sub(sub_id))


@hooks_bp.patch("/<sub_id>")
@hooks_bp.arguments(SubscriptionPatch)
@hooks_bp.response(200, SubscriptionOut)
def update_subscription(body, sub_id):
    sub = load(db_session(), me(), WebhookSubscription, sub_id, CONFIGURE, write=True)
    hooks.update(db_session(), current_context(), me(), sub, **body)
    return subscription_json(sub)


@hooks_bp.delete("/<sub_id>")
@hooks_bp.response(204)
def delete_subscription(sub_id):
    hooks.delete(db_session(), me(), load(db_session(), me(), WebhookSubscription, sub_id, CONFIGURE, write=True))


@hooks_bp.post("/<sub_id>/rotate")
@hooks_bp.response(200, SubscriptionOut)
def rotate_secret(sub_id):
    sub = load(db_session(), me(), WebhookSubscription, sub_id, CONFIGURE, write=True)
    secret = hooks.rotate_secret(db_session(), current_context(), me(), sub)
    return {**subscription_json(sub), "secret": secret}


@hooks_bp.post("/<sub_id>/test")
@hooks_bp.response(202, DeliveryOut)
def test_send(sub_id):
    """Queue a ``webhook.test`` delivery (sent by the job runner)."""
    sub = load(db_session(), me(), WebhookSubscription, sub_id, CONFIGURE, write=True)
    return delivery_json(hooks.send_test(db_session(), current_context(), me(), sub)), 202


@hooks_bp.get("/<sub_id>/deliveries")
@hooks_bp.arguments(DeliveryArgs, location="query")
@hooks_bp.response(200, page_schema(DeliveryOut), description=PAGE_DOC)
def list_deliveries(args, sub_id):
    """The delivery log, newest first."""
    sub = _sub(sub_id)
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
    if args.get("status"):
        query = query.where(WebhookDelivery.status == args["status"])
    return listing(query.order_by(WebhookDelivery.id.desc()), WebhookDelivery, args, delivery_json)


@hooks_bp.post("/deliveries/<delivery_id>/replay")
@hooks_bp.response(202, DeliveryOut)
def replay(delivery_id):
    """Send a delivered or failed delivery again (same ``webhook-id``); 422 while it is pending."""
    delivery = load(db_session(), me(), WebhookDelivery, delivery_id, CONFIGURE, write=True)
    return delivery_json(hooks.replay(db_session(), current_context(), me(), delivery)), 202
