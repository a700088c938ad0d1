"""The inbox: store events durably and deduplicated, then turn them into awards.

Flow (DESIGN.md): connector verifies -> :func:`record_event` (row committed before the sender is
answered) -> a job runs :func:`process_event` after the commit -> rules -> awards. An event that
cannot be processed keeps its row with status ``failed`` and a reason, and can be replayed.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, joinedload

from connectors.types import LearningEvent, PlatformUser
from hub.accounts.access import Principal
from hub.badges.recipient import normalise_email
from hub.badges.services import recipient_name
from hub.certificates import jobs as certificate_jobs
from hub.connections import registry
from hub.connections.models import ConnectorConfig
from hub.connections.services import IntakeConnector
from hub.context import HubContext
from hub.credentials import ob3
from hub.credentials.status import allocate_statuses
from hub.db import claim_filter, new_public_id, utcnow
from hub.errors import EventNotProcessable, HubError, ValidationError
from hub.i18n import Lazy, dump_text, english, joined, lazy
from hub.i18n import lazy as _l
from hub.inbox.models import FAILED, PENDING, PROCESSED, PROCESSING, InboundEvent
from hub.operations import awards
from hub.outgoing import services as outgoing
from hub.paths import jobs as path_jobs
from hub.rules import services as rules
from hub.schemas import has_nul, invalid_text_at, not_unicode
from hub.timefmt import isoformat_z, parse_timestamp

log = logging.getLogger(__name__)


@cache
def _insert_ignoring_duplicates(dialect: str):
    """``INSERT … ON CONFLICT DO NOTHING RETURNING id, public_id, status`` for ``dialect`` (SQLite and
    PostgreSQL share it), built once per process: the values come as execute parameters, so
    SQLAlchemy finds the compiled form by a cache key it has memoised on this one statement object
    instead of building a statement and its key per event. On the table, not the mapped class: a Core
    statement skips the ORM's bulk-insert machinery, which cost more than the database round trip."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = (postgresql if dialect == "postgresql" else sqlite).insert
    table = InboundEvent.__table__
    return (
        insert(table)
        .on_conflict_do_nothing(index_elements=["connector_id", "external_id"])
        .returning(table.c.id, table.c.public_id, table.c.status)
    )


@dataclass(frozen=True)
class RecordedEvent:
    """A stored :class:`InboundEvent` as :func:`record_event` returns it: row ``id``, ``public_id``, ``status``."""

    id: int
    public_id: str
    status: str


def record_event(
    session: Session,
    connector: ConnectorConfig | IntakeConnector,
    external_id: str,
    body: str,
    *,
    body_format: str = "raw",
    failed_reason: str | None = None,
) -> tuple[RecordedEvent, bool]:
    """Store a verified event unless (connector, ``external_id``) is stored already.

    Returns ``(event, created)``; ``created`` is False for a redelivery, which changes nothing.
    One statement in the common case (``INSERT … ON CONFLICT DO NOTHING RETURNING``): the unique
    constraint decides between concurrent deliveries, and the loser reads the winner's row. So it
    may run in :meth:`hub.db.Database.statement_scope`. ``failed_reason``: the event is stored as
    failed (replayable) with this reason, e.g. when intake finds no recipient in it.

    Raises:
        ValidationError: empty or over-long ``external_id``.
    """
    if not external_id or len(external_id) > 255:
        raise ValidationError(_l("the event id must be 1-255 characters"), field="webhook-id")
    now = utcnow()
    values = {
        "public_id": new_public_id(),
        "connector_id": connector.id,
        "external_id": external_id,
        "received_at": now,
        "body": body,
        "body_format": body_format,
        "status": PENDING,
        "attempts": 0,
        "history": [],
    }
    if failed_reason is not None:
        values.update(status=FAILED, reason=english(failed_reason), processed_at=now)
        values["history"] = [_history_entry(now, FAILED, failed_reason)]
    table = InboundEvent.__table__
    returned = (table.c.id, table.c.public_id, table.c.status)
    # Core on the session's connection (same transaction): the ORM's execute path adds nothing here.
    connection = session.connection()
    row = connection.execute(_insert_ignoring_duplicates(connection.dialect.name), values).first()
    if row is not None:
        return RecordedEvent(*row), True
    existing = connection.execute(
        select(*returned).where(table.c.connector_id == connector.id, table.c.external_id == external_id)
    ).one()
    return RecordedEvent(*existing), False


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
) -> tuple[RecordedEvent, bool]:
    """Store an already-normalised event (from a pull connector) for the same pipeline.

    The external id is ``event.idempotency_key``, so the same fact submitted twice is stored once.

    Raises:
        ValidationError: the event has no idempotency key.
    """
    if not event.idempotency_key:
        raise ValidationError("a submitted LearningEvent needs an idempotency_key", field="idempotency_key")
    return record_event(session, connector, event.idempotency_key, _event_to_json(event), body_format="learning_event")


def normalise(connector: ConnectorConfig, event: InboundEvent) -> LearningEvent:
    """The stored event as a LearningEvent (through its connector for raw bodies), checked by
    :func:`check_learning_event`, so processing and the dry run refuse the same events.

    Raises:
        EventNotProcessable: the connector cannot map it (e.g. recipient missing), or the mapped
            recipient e-mail or event type is not usable.
    """
    if event.body_format == "learning_event":
        learning = _event_from_json(event.body)
    else:
        learning = registry.get(connector.kind).normalise(connector.slug, connector.config, event.body)
    return check_learning_event(learning)


def check_learning_event(learning: LearningEvent) -> LearningEvent:
    """Refuse a normalised event the hub cannot award from, whatever connector made it: every text in it
    must be valid Unicode (:func:`hub.schemas.invalid_text_at`, the payload in ``data`` included), the
    recipient's e-mail an address (:func:`hub.badges.recipient.normalise_email`: ``123`` or an address
    with a NUL in it is not), the event type a name: text of 1-255 characters without control characters
    (not a list or an object the mapping found), the idempotency key at most 255 characters without
    control characters (it is the award's ``source_key``), and no other text field may hold a NUL
    (PostgreSQL text cannot). Returns ``learning`` unchanged. Intake calls it too, so an event that can
    never be processed is stored as failed at once rather than accepted.

    Raises:
        EventNotProcessable: naming the field (``recipient_email``, ``event_type``, ``idempotency_key``,
            ``key``, ``recipient_name``, ... or the path of the text that is not Unicode) and the reason.
    """
    where = invalid_text_at(asdict(learning))
    if where is not None:
        raise not_unicode(where, EventNotProcessable)
    try:
        normalise_email(learning.recipient.email)
    except ValidationError as exc:
        raise EventNotProcessable(
            _l("the recipient's e-mail is not usable: %(detail)s", detail=exc.detail), field="recipient_email"
        ) from None
    kind = learning.event_type
    if not isinstance(kind, str) or not kind.strip():
        raise EventNotProcessable(
            _l("the event type must be text, not %(value)s", value=json.dumps(kind, ensure_ascii=False)[:100]),
            field="event_type",
        )
    if len(kind) > 255 or any(unicodedata.category(c) == "Cc" for c in kind):
        raise EventNotProcessable(
            _l("the event type must be a name of at most 255 characters without control characters"),
            field="event_type",
        )
    try:
        recipient_name(learning.recipient.name)
    except ValidationError as exc:  # a line break (it would reach e-mail headers), or too long
        raise EventNotProcessable(
            _l("the recipient's name is not usable: %(detail)s", detail=exc.detail), field="recipient_name"
        ) from None
    ikey = learning.idempotency_key
    if ikey is not None and (len(ikey) > 255 or any(unicodedata.category(c) == "Cc" for c in ikey)):
        raise EventNotProcessable(
            _l("the idempotency key must be at most 255 characters without control characters (a NUL, a line break)"),
            field="idempotency_key",
        )
    texts = {
        "key": learning.key,
        "recipient_name": learning.recipient.name,
        "platform_user_id": learning.recipient.platform_user_id,
        "platform": learning.recipient.platform,
        "sourced_id": learning.recipient.sourced_id,
        "evidence": learning.evidence,
        "outcomes": learning.outcomes,
    }
    for name, value in texts.items():
        if has_nul(value):
            raise EventNotProcessable(
                _l("%(field)s contains a NUL character (U+0000), which cannot be stored", field=name), field=name
            )
    return learning


def _claimable(stale):
    return or_(
        InboundEvent.status == PENDING,
        (InboundEvent.status == PROCESSING) & (InboundEvent.claimed_at < stale),
    )


def claim(
    ctx: HubContext, event_ids: list[int] | None = None, limit: int = 50, *, owner: str | None = None
) -> list[int]:
    """Atomically move events to ``processing`` and return the ids this process now holds.

    With ``event_ids``: those of them still pending (or abandoned). Without: up to ``limit`` of the
    oldest waiting events. One ``UPDATE … RETURNING``; on PostgreSQL the selection skips rows other
    workers are claiming (``FOR UPDATE SKIP LOCKED``), so concurrent workers take disjoint batches.
    ``owner``: the claiming runner thread's token, stored as ``claimed_by`` (:func:`own_claims`).
    """
    now = utcnow()
    stale = now - timedelta(seconds=ctx.settings.stale_processing_seconds)
    with ctx.db.session_scope() as session:
        chosen: ColumnElement[bool]
        if event_ids is not None:
            chosen = InboundEvent.id.in_(event_ids) & _claimable(stale)
        else:
            # Abandoned claims back to pending first, so the pick is one ordered index range of pending
            # rows (see hub.db.claim_filter), not a sort of the whole backlog on every claim.
            session.execute(
                update(InboundEvent)
                .where(InboundEvent.status == PROCESSING, InboundEvent.claimed_at < stale)
                .values(status=PENDING, claimed_by=None)
            )
            pending = InboundEvent.status == PENDING
            pick = select(InboundEvent.id).where(pending).order_by(InboundEvent.received_at, InboundEvent.id)
            chosen = claim_filter(InboundEvent.id, pick.limit(limit), ctx.db.dialect) & pending
        result = session.execute(
            update(InboundEvent)
            .where(chosen)
            .values(status=PROCESSING, claimed_at=now, claimed_by=owner, attempts=InboundEvent.attempts + 1)
            .returning(InboundEvent.id)
        )
        return sorted(result.scalars().all())


def own_claims(ctx: HubContext, owner: str) -> list[int]:
    """Events still ``processing`` under ``owner``'s claim: after a database outage the runner thread
    that claimed them processes them again at once, including a claim that committed while its answer
    was lost, instead of waiting for ``HUB_STALE_PROCESSING_SECONDS``."""
    with ctx.db.read_scope() as session:
        query = select(InboundEvent.id).where(InboundEvent.status == PROCESSING, InboundEvent.claimed_by == owner)
        return sorted(session.scalars(query).all())


def _failure_reason(exc: Exception, event_id: int):
    if isinstance(exc, HubError):
        reason = _l("%(title)s: %(detail)s", title=lazy(exc.title), detail=exc.detail)
        log.warning("event %s failed: %s", event_id, english(reason))
        return reason
    log.exception("event %s failed unexpectedly", event_id, exc_info=exc)
    return f"internal error: {type(exc).__name__}"


def _tell_failed(session: Session, ctx: HubContext, event: InboundEvent) -> None:
    """An ``event.failed`` outgoing webhook event for the connector's issuer (if it has one)."""
    issuer_id = event.connector.issuer_id if event.connector is not None else None
    if issuer_id is not None:
        outgoing.emit(
            session,
            ctx,
            issuer_id,
            "event.failed",
            {
                "event": event.public_id,
                "connector": event.connector.slug,
                "external_id": event.external_id,
                "reason": event.reason,
            },
        )


def _finish(session: Session, event: InboundEvent, status: str, reason) -> None:
    """Record the outcome; ``reason`` (a string, or a lazy text the console shows translated) is stored
    in English, plus as a message in the history entry (:attr:`InboundEvent.reason_text`)."""
    event.status = status
    event.reason = english(reason) if reason is not None else None
    event.processed_at = utcnow()
    event.history = [*(event.history or []), _history_entry(event.processed_at, status, reason)]


def _history_entry(at, status: str, reason) -> dict:
    """One line of ``InboundEvent.history``: ``{"at": ISO 8601 UTC, "status", "reason"}``, the reason in
    English; one the hub wrote as a lazy text is also kept as ``message`` (:func:`hub.i18n.dump_text`),
    which the console shows in the reader's language."""
    entry = {"at": isoformat_z(at), "status": status, "reason": english(reason) if reason is not None else None}
    if isinstance(reason, Lazy):
        entry["message"] = dump_text(reason)
    return entry


def connector_principal(connector: ConnectorConfig) -> Principal:
    """The system principal a connector's events award as: the connector's issuer only, named
    ``connector:<slug>`` in the audit log. A connector without an issuer awards any issuer's badge
    classes if its kind allows site-level rows (a site administrator's webhook connector), and none at
    all otherwise (an LTI registration not yet assigned to an issuer:
    :attr:`connectors.base.Connector.site_level_awards`)."""
    actor = f"connector:{connector.slug}"
    if connector.issuer_id is None and not registry.get(connector.kind).site_level_awards:
        return Principal(None, actor, scope="award", via=connector.kind)
    return Principal.system(actor, issuer_id=connector.issuer_id, via=connector.kind)


def apply_awards(
    session: Session, ctx: HubContext, connector: ConnectorConfig, event: InboundEvent, *, defer_status: bool = False
) -> tuple[list, Lazy | None]:
    """Normalise ``event``, match rules and award through the one award operation
    (:func:`hub.operations.awards.award`, as the connector's :func:`connector_principal`): the event's
    whole effect, inside the caller's transaction. Returns ``(outcomes, note)``: the
    :class:`hub.operations.awards.AwardOutcome` list, and a note for an event that earns nothing because
    every matching rule's condition is false for it (it is processed, not failed). ``defer_status``: see
    :func:`hub.badges.services.award`.

    Raises:
        EventNotProcessable: no rule matches the event's type and key, with the reason.
    """
    learning = normalise(connector, event)
    found = rules.match(session, connector, learning)
    related = hand_on(session, ctx, connector, learning)
    if not found.badge_classes:
        if related and not found.unmet:
            return [], _l("handed on to %(events)s", events=joined(related))
        if found.unmet:
            return [], _l(
                "no badge earned: condition %(condition)s is false",
                condition=joined([f"`{c}`" for c in found.unmet]),
            )
        raise EventNotProcessable(
            _l(
                'no award rule matches event type "%(event_type)s" and key "%(key)s"',
                event_type=learning.event_type or "",
                key=learning.key or "",
            )
        )
    source_key = learning.idempotency_key or f"{connector.slug}:{event.external_id}"
    p = connector_principal(connector)
    return [
        awards.award(
            session,
            ctx,
            p,
            badge_class,
            learning.recipient,
            issued_on=learning.occurred_at,
            evidence=learning.evidence,
            source_key=source_key,
            source_event=event,
            outcomes=learning.outcomes,
            defer_status=defer_status,
        )
        for badge_class in found.badge_classes
    ], None


def hand_on(session: Session, ctx: HubContext, connector: ConnectorConfig, learning: LearningEvent) -> list[str]:
    """Store the events of other connector kinds that ``learning`` (an event of ``connector``) stands for
    too (:meth:`connectors.base.Connector.related_events`, e.g. the LTI course of a Moodle course that
    reported a completion), each once: deduplicated on its idempotency key by :func:`submit_learning_event`,
    so the same fact reported by several paths makes one event, whichever came first. They are processed
    by the job runner like any other pending event. Returns ``<connector slug>:<idempotency key>`` of each
    related event (new or stored before)."""
    found: list[str] = []
    for kind, kind_connector in registry.available().items():
        if kind == connector.kind:
            continue
        for target, related in kind_connector.related_events(session, ctx, connector, learning):
            _recorded, created = submit_learning_event(session, ctx, target, related)
            if created:
                log.info(
                    "event handed on",
                    extra={"from": connector.slug, "to": target.slug, "idempotency_key": related.idempotency_key},
                )
            found.append(f"{target.slug}:{related.idempotency_key}")
    return found


def process_claimed(ctx: HubContext, event_ids: list[int]) -> dict[int, str]:
    """Process events this process has claimed, in one transaction with a savepoint per event.

    Returns ``{event_id: final status}``. Never raises for a bad event: its failure is stored as status
    + reason and its savepoint is rolled back, so no award of a failed event survives while the others
    of the batch commit together (one commit per batch, not per event). If the batch itself cannot
    commit, each event is retried in a transaction of its own. Award e-mails are outbox rows of the
    batch, delivered by the job runner after the commit; one ``certificate.render`` job pre-renders
    the batch's certificates and previews.
    """
    if not event_ids:
        return {}
    statuses: dict[int, str] = {}
    try:
        with ctx.db.session_scope() as session:
            events = session.scalars(
                select(InboundEvent)
                .where(InboundEvent.id.in_(event_ids))
                .options(joinedload(InboundEvent.connector))
                .order_by(InboundEvent.id)
            ).all()
            failures: list[tuple[InboundEvent, str]] = []
            issued: list = []
            for event in events:
                try:
                    with session.begin_nested():
                        results, note = apply_awards(session, ctx, event.connector, event, defer_status=True)
                        if note is None and not any(r.created for r in results):
                            note = _l("already awarded; nothing new issued")
                        # Award e-mails are outbox rows of this transaction, sent once it has committed.
                        _finish(session, event, PROCESSED, note)
                    issued += [r.assertion for r in results if r.created]
                    statuses[event.id] = PROCESSED
                except OperationalError:
                    # The database went away or timed out: not the event's fault. The whole batch is
                    # retried (the claims stay with this runner, which takes them back), never marked failed.
                    raise
                except Exception as exc:  # noqa: BLE001 - a bad event must not stop the batch
                    failures.append((event, _failure_reason(exc, event.id)))
            # The batch's status list indexes in one statement per issuer, just before the commit, so
            # concurrent workers hold the list's row lock briefly (see allocate_statuses).
            entries = allocate_statuses(session, issued)
            # Their OB 3.0 credentials (Data Integrity and VC-JWT), signed and stored in this commit.
            ob3.store_credentials(session, ctx, issued, entries)
            # One job pre-renders the batch's certificates and previews after the commit (one INSERT).
            certificate_jobs.enqueue_render(session, ctx, [a.id for a in issued])
            # One path.check job for the batch's step awards (development paths).
            path_jobs.enqueue_checks(session, ctx, issued)
            for event, reason in failures:
                _finish(session, event, FAILED, reason)
                statuses[event.id] = FAILED
                _tell_failed(session, ctx, event)
    except OperationalError:
        raise  # the database is down or silent: one by one would fail the same way; the runner retries
    except Exception:
        if len(event_ids) == 1:
            raise
        log.exception("batch of %d events could not commit; processing them one by one", len(event_ids))
        statuses = {}
        for event_id in event_ids:
            statuses.update(process_claimed(ctx, [event_id]))
        return statuses
    log.info("events processed", extra={"events": len(statuses), "failed": len(failures)})
    return statuses


def process_event(ctx: HubContext, event_id: int) -> str | None:
    """Claim and process one stored event; returns its final status, or None when another process
    holds it. See :func:`process_claimed`."""
    if not claim(ctx, [event_id]):
        return None
    try:
        return process_claimed(ctx, [event_id]).get(event_id)
    except Exception as exc:  # the database failed under us: record it if we still can
        reason = _failure_reason(exc, event_id)
        with ctx.db.session_scope() as session:
            event = session.get(InboundEvent, event_id)
            if event is not None:
                _finish(session, event, FAILED, reason)
        return FAILED


def replay(session: Session, event: InboundEvent) -> InboundEvent:
    """Put a failed (or processed) event back to ``pending`` so it is processed again with today's
    configuration. Awards already made are not repeated (the award service is idempotent)."""
    if event.status == PROCESSING:
        raise ValidationError(_l("the event is being processed; try again shortly"), field="status")
    event.status = PENDING
    event.reason = None
    event.claimed_at = None
    session.flush()
    return event


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
    return learning, rules.matching_badge_classes(session, event.connector, learning)
