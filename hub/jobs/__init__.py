"""The one job system: every piece of background work is a durable row, claimed, run, retried with
backoff and a cap, visible in the console and the API, and resumed after a crash.

Four kinds of durable row feed one runner (:class:`hub.jobs.runner.Runner`):

- inbox events (:class:`hub.inbox.models.InboundEvent`): written before the sender is answered,
  processed in batches (:func:`hub.inbox.services.process_claimed`);
- award e-mails (:class:`hub.learners.models.Notification`): outbox rows written in the award's
  transaction, sent at most once each (:func:`hub.learners.notifications.deliver`);
- outgoing webhook deliveries (:class:`hub.outgoing.models.WebhookDelivery`): outbox rows written in
  the transaction of the award (or revocation, path completion, failed event) they tell of, sent in
  order per award with their own backoff of up to 3 days (:func:`hub.outgoing.services.deliver`);
- jobs (:class:`hub.jobs.models.Job`): everything else — bulk CSV awards, Moodle syncs, LTI grade
  syncs — each ``kind`` with a handler registered here, plus scheduled kinds the runner enqueues by
  itself (no cron).

Why a database queue and not a broker library (Huey, Dramatiq, Celery, procrastinate): the embedded
default has no server but SQLite, and every job is born in a transaction that also writes domain rows
(an event and its acknowledgement, a bulk job and its audit entry). Enqueueing in that same transaction
gives "stored before acknowledged" and "no job for a rolled-back request" for free; a broker would be a
second source of truth needing an outbox of its own. Of the libraries, only procrastinate enqueues in
the caller's transaction, and it is PostgreSQL-only. Claims are one ``UPDATE … RETURNING`` (``FOR UPDATE
SKIP LOCKED`` on PostgreSQL), so any number of web and worker processes share the work.
"""

from __future__ import annotations

import logging
import random
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.context import HubContext
from hub.db import claim_filter, new_public_id, utcnow
from hub.jobs.models import DONE, FAILED, PENDING, RUNNING, Job

__all__ = ["DONE", "FAILED", "PENDING", "RUNNING", "Job"]
from hub.operations.uow import after_commit

log = logging.getLogger(__name__)

#: Backoff between attempts: ``BACKOFF_BASE * 2**(attempt-1)`` seconds, at most ``BACKOFF_CAP``, with
#: up to 25 % jitter so retries of many jobs failed by one outage do not arrive together.
BACKOFF_BASE = 2.0
BACKOFF_CAP = 600.0


@dataclass(frozen=True)
class Schedule:
    """A kind the runner enqueues by itself: ``targets(session, ctx)`` yields ``(dedup part, payload,
    issuer_id, every_seconds)`` for each thing due a run (e.g. each Moodle site with a sync interval);
    one job per target and time slot is enqueued, however many runners look."""

    targets: Callable[[Session, HubContext], Any]


@dataclass(frozen=True)
class Kind:
    """A registered job kind: ``handler(ctx, job: JobRun)``, its attempt cap and optional schedule."""

    name: str
    handler: Callable[[HubContext, JobRun], None]
    max_attempts: int = 5
    schedule: Schedule | None = None


KINDS: dict[str, Kind] = {}
#: This process's runner for each hub context (``id(ctx)``), so request-free code can wake it.
_RUNNERS: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()


def attach(ctx: HubContext, runner) -> None:
    """Make ``runner`` the one :func:`wake` reaches for ``ctx`` (the runner does this itself)."""
    _RUNNERS[id(ctx)] = runner


def wake(ctx: HubContext) -> None:
    """Tell this process's runner for ``ctx`` that work was committed (``sync`` mode: it does it now).
    Without a runner (a CLI command, a script) nothing happens: the work waits, durable, for the next
    runner pass of a web or worker process."""
    runner = _RUNNERS.get(id(ctx))
    if runner is not None:
        runner.wake()


def wake_after_commit(session: Session, ctx: HubContext) -> None:
    """:func:`wake` the runner once ``session``'s transaction has committed (never if it rolls back)."""
    after_commit(session, wake, ctx)


def register(
    name: str, handler: Callable[[HubContext, JobRun], None], *, max_attempts: int = 5, schedule: Schedule | None = None
) -> None:
    """Register ``handler`` for jobs of kind ``name`` (hub modules and connectors call this when they
    load). A handler must be safe to run again after a crash: resume from the job's own progress, or
    rely on idempotent effects (the award service's source keys)."""
    KINDS[name] = Kind(name, handler, max_attempts, schedule)


def enqueue(
    session: Session,
    kind: str,
    payload: dict | None = None,
    *,
    dedup_key: str | None = None,
    run_after: datetime | None = None,
    issuer_id: int | None = None,
    ctx: HubContext | None = None,
) -> Job | None:
    """Add a job in the caller's transaction; it runs once that transaction has committed.

    Args:
        kind: a registered kind (:func:`register`).
        payload: JSON-able arguments.
        dedup_key: a job with this key exists already → nothing is added and None is returned.
        run_after: not before this aware datetime (default now).
        ctx: wake this context's runner after the commit (:func:`wake_after_commit`), so the job starts
            at once rather than at the next poll.

    Raises:
        KeyError: ``kind`` is not registered.
    """
    spec = KINDS[kind]
    job = Job(
        public_id=new_public_id(),
        kind=kind,
        payload=payload or {},
        status=PENDING,
        attempts=0,
        max_attempts=spec.max_attempts,
        run_after=run_after or utcnow(),
        dedup_key=dedup_key,
        issuer_id=issuer_id,
        progress={},
    )
    if dedup_key is not None:
        try:
            with session.begin_nested():
                session.add(job)
                session.flush()
        except IntegrityError:
            return None
    else:
        session.add(job)
        session.flush()
    if ctx is not None:
        wake_after_commit(session, ctx)
    return job


class JobRun:
    """What a handler gets: the job's ``id``, ``public_id``, ``payload`` and ``attempts``, and
    :meth:`progress` to record progress and renew the lease (call it at least once per lease)."""

    def __init__(self, ctx: HubContext, job: Job):
        self.ctx = ctx
        self.id = job.id
        self.public_id = job.public_id
        self.kind = job.kind
        self.payload = dict(job.payload or {})
        self.attempts = job.attempts

    def progress(self, done: int | None = None, total: int | None = None, message: str | None = None) -> None:
        """Record progress (shown in the console and the API) and renew the lease, in a statement of its
        own (committed at once)."""
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if done is not None or total is not None or message is not None:
            values["progress"] = {"done": done, "total": total, "message": message}
        with self.ctx.db.statement_scope() as s:
            s.execute(update(Job).where(Job.id == self.id).values(**values))


def backoff(attempt: int) -> float:
    """Seconds to wait before attempt ``attempt + 1`` (``attempt`` ≥ 1): exponential with a cap and jitter."""
    base = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempt - 1))
    return base * (1 + random.random() / 4)


def claim(ctx: HubContext, limit: int = 1, *, owner: str | None = None) -> list[int]:
    """Move up to ``limit`` due jobs to ``running`` (oldest first) and return their ids; one ``UPDATE …
    RETURNING``, disjoint across concurrent runners (``SKIP LOCKED`` on PostgreSQL). A running job whose
    lease ran out is claimed again (its process died). ``owner``: the runner thread's token
    (``claimed_by``, :func:`own_claims`)."""
    now = utcnow()
    lease = timedelta(seconds=ctx.settings.job_lease_seconds)
    with ctx.db.session_scope() as session:
        # Jobs whose lease ran out back to pending first: the pick is then one ordered range of
        # ix_job_status_run_after (see hub.db.claim_filter), not a sort of every due job.
        session.execute(
            update(Job)
            .where(Job.status == RUNNING, Job.heartbeat_at < now - lease)
            .values(status=PENDING, claimed_by=None)
        )
        due = (Job.status == PENDING) & (Job.run_after <= now)
        pick = select(Job.id).where(due).order_by(Job.run_after, Job.id).limit(limit)
        result = session.execute(
            update(Job)
            .where(claim_filter(Job.id, pick, ctx.db.dialect), due)
            .values(status=RUNNING, heartbeat_at=now, claimed_by=owner, attempts=Job.attempts + 1)
            .returning(Job.id)
        )
        return sorted(result.scalars().all())


def own_claims(ctx: HubContext, owner: str) -> list[int]:
    """Jobs still ``running`` under ``owner``'s claim (after a database outage the runner thread takes
    them back at once rather than after the lease; handlers resume)."""
    with ctx.db.read_scope() as session:
        return sorted(session.scalars(select(Job.id).where(Job.status == RUNNING, Job.claimed_by == owner)).all())


def run(ctx: HubContext, job_id: int) -> str:
    """Run one claimed job's handler and record the outcome: ``done``; or, when it raised, ``pending``
    again after :func:`backoff` (``last_error`` says why) until ``max_attempts`` starts, then
    ``failed``. Never raises for a handler's error, so one poison job never stops the others. Returns
    the job's new status."""
    with ctx.db.session_scope() as session:
        job = session.get(Job, job_id)
        if job is None or job.status != RUNNING:
            return job.status if job is not None else FAILED
        spec = KINDS.get(job.kind)
        handle = JobRun(ctx, job)
    if spec is None:
        return _finish(ctx, job_id, FAILED, f"no handler for job kind {handle.kind!r}")
    try:
        spec.handler(ctx, handle)
    except Exception as exc:  # noqa: BLE001 - recorded on the job; the runner goes on
        error = f"{type(exc).__name__}: {exc}"
        if handle.attempts >= (spec.max_attempts or 1):
            log.error("job %s (%s) failed for good after %d attempts: %s", job_id, handle.kind, handle.attempts, error)
            log.debug("job %s traceback:\n%s", job_id, traceback.format_exc())
            return _finish(ctx, job_id, FAILED, error)
        wait = backoff(handle.attempts)
        log.warning(
            "job %s (%s) attempt %d failed, retrying in %.0f s: %s", job_id, handle.kind, handle.attempts, wait, error
        )
        return _finish(ctx, job_id, PENDING, error, run_after=utcnow() + timedelta(seconds=wait))
    return _finish(ctx, job_id, DONE, None)


def _finish(ctx: HubContext, job_id: int, status: str, error: str | None, *, run_after: datetime | None = None) -> str:
    values: dict[str, Any] = {"status": status, "last_error": error[:4000] if error else None}
    if status in (DONE, FAILED):
        values["finished_at"] = utcnow()
    if run_after is not None:
        values["run_after"] = run_after
    with ctx.db.session_scope() as session:
        session.execute(update(Job).where(Job.id == job_id, Job.status == RUNNING).values(**values))
    return status


def retry(session: Session, job: Job) -> Job:
    """Put a failed job back to pending with a fresh attempt budget (the console's and API's "retry")."""
    job.status = PENDING
    job.attempts = 0
    job.run_after = utcnow()
    job.last_error = None
    job.finished_at = None
    session.flush()
    return job


def list_jobs(where=None, *, status: str | None = None, kind: str | None = None):
    """Jobs, newest first (a ``Select``)."""
    query = select(Job).order_by(Job.id.desc())
    if where is not None:
        query = query.where(where)
    if status:
        query = query.where(Job.status == status)
    if kind:
        query = query.where(Job.kind == kind)
    return query


def schedule_due(ctx: HubContext) -> int:
    """Enqueue the scheduled kinds' jobs that are due (one per target and time slot, deduplicated by
    key, so several runners schedule each once). Returns how many were added."""
    added = 0
    now = utcnow()
    for spec in KINDS.values():
        if spec.schedule is None:
            continue
        with ctx.db.session_scope() as session:
            for part, payload, issuer_id, every in spec.schedule.targets(session, ctx):
                if not every or every <= 0:
                    continue
                slot = int(now.timestamp() // every)
                key = f"{spec.name}:{part}:{slot}"
                if enqueue(session, spec.name, payload, dedup_key=key, issuer_id=issuer_id) is not None:
                    added += 1
    return added
