"""JSON API, version 1 (``/api/v1``). Errors are RFC 9457 problem JSON.

Authentication: ``Authorization: Bearer <HUB_ADMIN_TOKEN>``; with no token configured the API is off.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, current_app, request
from sqlalchemy import select

from hub.connections.models import ConnectorConfig
from hub.context import current_context
from hub.errors import Forbidden, SignatureError, ValidationError
from hub.inbox.models import STATUSES, InboundEvent
from hub.inbox.services import replay
from hub.timefmt import isoformat_z
from hub.web import db_session

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


@bp.before_request
def _authenticate():
    token = current_context().settings.admin_token
    if not token:
        raise Forbidden("the JSON API is disabled: set HUB_ADMIN_TOKEN")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not given or not hmac.compare_digest(given.encode(), token.encode()):
        raise SignatureError("missing or wrong bearer token")


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


@bp.get("/events")
def list_events():
    """List inbox events, newest first. Query: ``status``, ``connector`` (slug), ``limit`` (1-500,
    default 50), ``before`` (an event id, for the next page)."""
    status, slug = request.args.get("status"), request.args.get("connector")
    try:
        limit = min(max(int(request.args.get("limit", 50)), 1), 500)
    except ValueError:
        raise ValidationError("limit must be a number", field="limit") from None
    if status and status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}", field="status")
    query = select(InboundEvent).order_by(InboundEvent.id.desc()).limit(limit + 1)
    if status:
        query = query.where(InboundEvent.status == status)
    if slug:
        query = query.join(ConnectorConfig).where(ConnectorConfig.slug == slug)
    if before := request.args.get("before"):
        anchor = db_session().scalar(select(InboundEvent.id).where(InboundEvent.public_id == before))
        if anchor is None:
            raise ValidationError("before must be an event id", field="before")
        query = query.where(InboundEvent.id < anchor)
    rows = db_session().scalars(query).all()
    items = [event_json(e) for e in rows[:limit]]
    return {"items": items, "next": items[-1]["id"] if len(rows) > limit else None}


def _event(event_id: str) -> InboundEvent:
    from hub.badges.services import get_by_public_id

    return get_by_public_id(db_session(), InboundEvent, event_id)


@bp.get("/events/<event_id>")
def get_event(event_id: str):
    return event_json(_event(event_id), full=True)


@bp.post("/events/<event_id>/replay")
def replay_event(event_id: str):
    """Process a stored event again with the current configuration (202)."""
    session = db_session()
    event = replay(session, _event(event_id))
    session.commit()
    current_app.extensions["hub.jobs"].enqueue(event.id)
    return event_json(event), 202
