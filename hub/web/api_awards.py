"""JSON API: awards (``/api/v1/awards``): search, award one or many, revoke, re-send the e-mail. Routes
of :data:`hub.web.api.bp`, registered with it."""

from __future__ import annotations

from datetime import UTC

from marshmallow import fields, validate

from hub.accounts.access import AWARD, VIEW
from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass
from hub.context import current_context
from hub.learners import notifications
from hub.operations import actions
from hub.schemas import ApiSchema as Base
from hub.schemas import http_url
from hub.timefmt import isoformat_z
from hub.web import db_session
from hub.web.admin.scoping import load, scope
from hub.web.api import PAGE_DOC, Opt, PageArgs, Text, bp, listing, me, page_schema


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
    evidence_url = http_url(**Opt)
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


# ---- awards --------------------------------------------------------------------------------------------


@bp.get("/awards")
@bp.arguments(AwardArgs, location="query")
@bp.response(200, page_schema(AwardOut), description=PAGE_DOC)
def list_awards(args):
    badge_id = load(db_session(), me(), BadgeClass, args["badge_class"], VIEW).id if args.get("badge_class") else None
    query = badges.search_assertions(
        scope(me(), Assertion, VIEW),
        recipient=args.get("recipient"),
        badge_class_id=badge_id,
        revoked=args.get("revoked"),
    )
    return listing(query, Assertion, args, award_json)


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


@bp.get("/awards/<public_id:assertion_id>")
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
