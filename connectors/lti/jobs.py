"""The LTI tool's background work as jobs of the hub's one job system (:mod:`hub.jobs`).

``lti.grade_sync``: read the AGS results of one course whose award rule is a grade threshold and
award the linked badges earned (:func:`connectors.lti.services.sync_grades`). The runner schedules one
per course every ``HUB_LTI_GRADE_SYNC_MINUTES`` (default 15; 0: only on demand), with no cron; the
course page's "Check grades now" enqueues one at once (:func:`enqueue_now`). A failed platform call is
retried with the job system's backoff; awards are idempotent (source keys), so a job run again after a
crash awards nothing twice.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub import jobs
from hub.context import HubContext
from hub.db import new_public_id
from hub.errors import ValidationError
from hub.jobs.models import PENDING, RUNNING, Job

from .models import ACTIVE, RULE_GRADE, LtiContext, LtiRegistration
from .tenancy import NotAssigned

log = logging.getLogger(__name__)
GRADE_SYNC = "lti.grade_sync"
#: Attempts of one grade sync (a platform that does not answer is tried again with backoff).
MAX_ATTEMPTS = 3


def _key_prefix(context_pk: int) -> str:
    # schedule_due names its jobs "<kind>:<part>:<slot>" with part = the context's row id; so do we.
    return f"{GRADE_SYNC}:{context_pk}:"


def grade_sync_targets(session: Session, ctx: HubContext):
    """The schedule of :data:`GRADE_SYNC` (:class:`hub.jobs.Schedule`): one target per course with the
    grade rule, of an active registration assigned to an issuer, every ``HUB_LTI_GRADE_SYNC_MINUTES``.
    Yields ``(context row id, {"context": id}, issuer row id, seconds)``."""
    minutes = ctx.settings.lti_grade_sync_minutes
    if minutes <= 0:
        return
    rows = session.execute(
        select(LtiContext.id, LtiRegistration.issuer_id)
        .join(LtiRegistration, LtiContext.registration_id == LtiRegistration.id)
        .where(
            LtiContext.award_rule == RULE_GRADE,
            LtiContext.grade_lineitem_url.is_not(None),
            LtiRegistration.status == ACTIVE,
            LtiRegistration.issuer_id.is_not(None),
        )
        .order_by(LtiContext.id)
    ).all()
    for context_pk, issuer_id in rows:
        yield str(context_pk), {"context": context_pk}, issuer_id, minutes * 60


def run_grade_sync(ctx: HubContext, job: jobs.JobRun) -> None:
    """Handler of :data:`GRADE_SYNC` (payload ``{"context": <LtiContext row id>}``): sync the course's
    grades and record the outcome as the job's progress (``awarded``, ``already``, ``below``,
    ``no_email`` besides ``done``/``message``). A course that no longer awards on grades, or whose
    registration lost its issuer, ends the job with nothing done.

    Raises:
        PlatformServiceError: the platform's AGS or NRPS failed (the job is retried).
    """
    from .services import sync_grades
    from .store import make_store

    context_pk = int(job.payload["context"])
    try:
        outcome = sync_grades(ctx, make_store(ctx), context_pk)
    except (ValidationError, NotAssigned) as exc:
        log.info("LTI grade sync of context row %s skipped: %s", context_pk, getattr(exc, "reason", None) or exc)
        _record(ctx, job, {"done": 0, "total": None, "message": f"skipped: {exc}", "skipped": True})
        return
    _record(
        ctx,
        job,
        {
            "done": outcome.awarded,
            "total": None,
            "message": f"{outcome.awarded} awarded, {outcome.below} below the threshold",
            "awarded": outcome.awarded,
            "already": outcome.already,
            "below": outcome.below,
            "no_email": len(outcome.no_email),
        },
    )


def _record(ctx: HubContext, job: jobs.JobRun, progress: dict[str, Any]) -> None:
    with ctx.db.statement_scope() as s:
        s.execute(update(Job).where(Job.id == job.id).values(progress=progress))


def enqueue_now(session: Session, ctx: HubContext, context: LtiContext) -> tuple[Job, bool]:
    """Ask for a grade sync of ``context`` now ("Check grades now"), in the caller's transaction; it runs
    once that commits. A sync of the course already waiting or running is not doubled. Returns
    ``(job, created)``."""
    waiting = session.scalar(
        select(Job)
        .where(
            Job.kind == GRADE_SYNC,
            Job.dedup_key.startswith(_key_prefix(context.id), autoescape=True),
            Job.status.in_((PENDING, RUNNING)),
        )
        .order_by(Job.id.desc())
        .limit(1)
    )
    if waiting is not None:
        return waiting, False
    job = jobs.enqueue(
        session,
        GRADE_SYNC,
        {"context": context.id},
        dedup_key=_key_prefix(context.id) + "now-" + new_public_id(),
        issuer_id=context.registration.issuer_id,
        ctx=ctx,
    )
    return job, True


def last_grade_sync(session: Session, context: LtiContext) -> Job | None:
    """The course's newest grade sync job (scheduled or asked for), or None."""
    return session.scalar(
        select(Job)
        .where(Job.kind == GRADE_SYNC, Job.dedup_key.startswith(_key_prefix(context.id), autoescape=True))
        .order_by(Job.id.desc())
        .limit(1)
    )


def register() -> None:
    """Register :data:`GRADE_SYNC` with its schedule (called by the connector's ``register_jobs``)."""
    jobs.register(GRADE_SYNC, run_grade_sync, max_attempts=MAX_ATTEMPTS, schedule=jobs.Schedule(grade_sync_targets))
