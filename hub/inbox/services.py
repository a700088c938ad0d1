"""The inbox: store events durably and deduplicated, then turn them into awards.

Flow (DESIGN.md): connector verifies -> :func:`record_event` (row committed before the sender is
answered) -> a job runs :func:`process_event` after the commit -> rules -> awards. An event that
cannot be processed keeps its row with status ``failed`` and a reason, and can be replayed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from connectors.types import LearningEvent, PlatformUser
from hub.badges import services as badges
from hub.connections import registry
from hub.connections.models import ConnectorConfig
from hub.context import HubContext
from hub.db import utcnow
from hub.errors import EventNotProcessable, HubError, ValidationError
from hub.inbox.models import FAILED, PENDING, PROCESSED, PROCESSING, InboundEvent
from hub.learners import notifications
from hub.rules.services import matching_badge_classes
from hub.timefmt import isoformat_z, parse_timestamp

log = logging.getLogger(__name__)


def record_event(
    session: Session, connector: ConnectorConfig, external_id: str, body: str, *, body_format: str = "raw"
) -> tuple[InboundEvent, bool]:
    """Store a verified event unless (connector, ``external_id``) is stored already.

    Returns ``(event, created)``; ``created`` is False for a redelivery, which changes nothing.
    Safe under concurrency: the unique constraint decides, the loser reads the winner's row.

    Raises:
        ValidationError: empty or over-long ``external_id``.
    """
    if not external_id or len(external_id) > 255:
        raise ValidationError("the event id must be 1-255 characters", field="webhook-id")
    stmt = select(InboundEvent).where(
        InboundEvent.connector_id == connector.id, InboundEvent.external_id == external_id
    )
    existing = session.scalar(stmt)
    if existing is not None:
        return existing, False
    event = InboundEvent(
        connector_id=connector.id,
        external_id=external_id,
        received_at=utcnow(),
        body=body,
        body_format=body_format,
        status=PENDING,
        history=[],
    )
    try:
        with session.begin_nested():
            session.add(event)
            session.flush()
    except IntegrityError:
        existing = session.scalar(stmt)
        if existing is None:
            raise
        return existing, False
    event.connector = connector
    return event, True


def _event_to_json(event: LearningEvent) -> str:
    doc = asdict(event)
    doc["occurred_at"] = isoformat_z(event.occurred_at) if event.occurred_at else None
    return json.dumps(doc, ensure_ascii=False, sort_keys=True)


def _event_from_json(body: str) -> LearningEvent:
    doc = json.loads(body)
    doc["recipient"] = PlatformUser(**doc["recipient"])
    doc["occurred_at"] = parse_timestamp(doc["occurred_at"]) if doc.get("occurred_at") else None
    doc["evidence"] = tuple(doc.get("evidence") or ())
    doc["outcomes"] = tuple(doc.get("outcomes") or ())
    return LearningEvent(**doc)


def submit_learning_event(
    session: Session, ctx: HubContext, connector: ConnectorConfig, event: LearningEvent
) -> tuple[InboundEvent, bool]:
    """Store an already-normalised event (from a pull connector) for the same pipeline.

    The external id is ``event.idempotency_key``, so the same fact submitted twice is stored once.

    Raises:
        ValidationError: the event has no idempotency key.
    """
    if not event.idempotency_key:
        raise ValidationError("a submitted LearningEvent needs an idempotency_key", field="idempotency_key")
    return record_event(session, connector, event.idempotency_key, _event_to_json(event), body_format="learning_event")


def normalise(connector: ConnectorConfig, event: InboundEvent) -> LearningEvent:
    """The stored event as a LearningEvent (through its connector for raw bodies).

    Raises:
        EventNotProcessable: the connector cannot map it (e.g. recipient missing).
    """
    if event.body_format == "learning_event":
        return _event_from_json(event.body)
    return registry.get(connector.kind).normalise(connector.slug, connector.config, event.body)


def _claim(ctx: HubContext, event_id: int) -> bool:
    """Atomically move a pending (or abandoned) event to ``processing``. False if another process has it."""
    now = utcnow()
    stale = now - timedelta(seconds=ctx.settings.stale_processing_seconds)
    with ctx.db.session_scope() as session:
        result = session.execute(
            update(InboundEvent)
            .where(
                InboundEvent.id == event_id,
                or_(
                    InboundEvent.status == PENDING,
                    (InboundEvent.status == PROCESSING) & (InboundEvent.claimed_at < stale),
                ),
            )
            .values(status=PROCESSING, claimed_at=now, attempts=InboundEvent.attempts + 1)
        )
        return result.rowcount == 1


def _finish(session: Session, event: InboundEvent, status: str, reason: str | None) -> None:
    event.status = status
    event.reason = reason
    event.processed_at = utcnow()
    event.history = [
        *(event.history or []),
        {"at": isoformat_z(event.processed_at), "status": status, "reason": reason},
    ]


def apply_awards(session: Session, ctx: HubContext, connector: ConnectorConfig, event: InboundEvent) -> list:
    """Normalise ``event``, match rules and award: the event's whole effect, inside the caller's
    transaction. Returns the list of :class:`hub.badges.services.AwardResult`.

    Raises:
        EventNotProcessable: nothing to award, with the reason.
    """
    learning = normalise(connector, event)
    earned = matching_badge_classes(session, connector, learning)
    if not earned:
        raise EventNotProcessable(f"no award rule matches event_type={learning.event_type!r} key={learning.key!r}")
    source_key = learning.idempotency_key or f"{connector.slug}:{event.external_id}"
    return [
        badges.award(
            session,
            ctx,
            badge_class,
            learning.recipient,
            issued_on=learning.occurred_at,
            evidence=learning.evidence,
            source_key=source_key,
            source_event=event,
            outcomes=learning.outcomes,
        )
        for badge_class in earned
    ]


def process_event(ctx: HubContext, event_id: int) -> str | None:
    """Process one stored event in its own transaction; returns its final status, or None when another
    process holds it. Never raises for a bad event: the failure is stored as status + reason, and no
    award of a failed attempt survives (the transaction is rolled back as a whole)."""
    if not _claim(ctx, event_id):
        return None
    try:
        with ctx.db.session_scope() as session:
            event = session.get(InboundEvent, event_id, options=[joinedload(InboundEvent.connector)])
            results = apply_awards(session, ctx, event.connector, event)
            new = sum(r.created for r in results)
            _finish(session, event, PROCESSED, None if new else "already awarded; nothing new issued")
            # The award e-mails are outbox rows of this transaction, sent only once it has committed.
            mails = notifications.enqueue_awards(session, results)
        log.info("event processed", extra={"event": event.public_id, "awards": len(results), "new": new})
        notifications.deliver(ctx, mails)
        return PROCESSED
    except HubError as exc:
        reason = f"{exc.title}: {exc.detail}"
        log.warning("event %s failed: %s", event_id, reason)
    except Exception as exc:  # an unexpected bug must not lose the event: keep it, failed, for replay
        reason = f"internal error: {type(exc).__name__}"
        log.exception("event %s failed unexpectedly", event_id)
    with ctx.db.session_scope() as session:
        _finish(session, session.get(InboundEvent, event_id), FAILED, reason)
    return FAILED


def mark_failed(session: Session, event: InboundEvent, reason: str) -> None:
    """Record a failure found at intake (e.g. the mapping finds no recipient); the event stays replayable."""
    _finish(session, event, FAILED, reason)


def replay(session: Session, event: InboundEvent) -> InboundEvent:
    """Put a failed (or processed) event back to ``pending`` so it is processed again with today's
    configuration. Awards already made are not repeated (the award service is idempotent)."""
    if event.status == PROCESSING:
        raise ValidationError("the event is being processed; try again shortly", field="status")
    event.status = PENDING
    event.reason = None
    event.claimed_at = None
    session.flush()
    return event


def claimable_ids(ctx: HubContext, limit: int = 100) -> list[int]:
    """Ids of events waiting for processing (pending, or processing but abandoned), oldest first."""
    stale = utcnow() - timedelta(seconds=ctx.settings.stale_processing_seconds)
    with ctx.db.session_scope() as session:
        return list(
            session.scalars(
                select(InboundEvent.id)
                .where(
                    or_(
                        InboundEvent.status == PENDING,
                        (InboundEvent.status == PROCESSING) & (InboundEvent.claimed_at < stale),
                    )
                )
                .order_by(InboundEvent.received_at, InboundEvent.id)
                .limit(limit)
            )
        )


def list_events(where=None, *, status: str | None = None, connector_id: int | None = None, since=None, until=None):
    """Inbox events, newest first, joined to their connector (``where`` may use ``ConnectorConfig``).

    ``since``/``until`` are aware datetimes bounding ``received_at`` (inclusive, exclusive).
    """
    query = select(InboundEvent).join(ConnectorConfig, InboundEvent.connector_id == ConnectorConfig.id)
    query = query.order_by(InboundEvent.id.desc())
    if where is not None:
        query = query.where(where)
    if status:
        query = query.where(InboundEvent.status == status)
    if connector_id is not None:
        query = query.where(InboundEvent.connector_id == connector_id)
    if since is not None:
        query = query.where(InboundEvent.received_at >= since)
    if until is not None:
        query = query.where(InboundEvent.received_at < until)
    return query


def dry_run(session: Session, event: InboundEvent) -> tuple[LearningEvent, list]:
    """Which badge classes would ``event`` earn under today's rules? Changes nothing.

    Returns ``(learning_event, badge_classes)``.

    Raises:
        EventNotProcessable: the connector cannot map the event; ConfigurationError: a rule's condition fails.
    """
    learning = normalise(event.connector, event)
    return learning, matching_badge_classes(session, event.connector, learning)
