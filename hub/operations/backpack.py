"""Backpack operations: a learner imports or removes an external badge (audited), and the
``backpack.reverify`` job re-verifies every imported badge on a schedule (``HUB_BACKPACK_RECHECK_HOURS``).

The actor is the signed-in learner (:func:`learner_principal`, recorded as ``learner:<public id>`` via
``learner``); the audit entry names the imported badge, never its content. The e-mails about a changed
state are outbox rows written in the same transaction as the new verdict; the job runner delivers them
after the commit.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import jobs
from hub.accounts import audit
from hub.accounts.access import Principal
from hub.backpack import services as backpack
from hub.backpack.models import ImportedBadge
from hub.context import HubContext
from hub.learners.models import Learner
from hub.operations.uow import after_commit
from hub.verification import Verdict

log = logging.getLogger(__name__)

REVERIFY = "backpack.reverify"
BATCH = 50


def learner_principal(learner: Learner) -> Principal:
    """The principal of a signed-in learner (no console rights)."""
    return Principal(None, f"learner:{learner.public_id}", scope="read", via="learner", locale=learner.locale)


def import_badge(
    session: Session, ctx: HubContext, learner: Learner, given: backpack.Given, **kw
) -> tuple[ImportedBadge, Verdict]:
    """Import and verify a badge for ``learner`` (:func:`hub.backpack.services.import_badge`), audited as
    ``backpack.import``. Raises as that service (nothing is stored then)."""
    row, verdict = backpack.import_badge(session, ctx, learner, given, **kw)
    audit.record(
        session,
        learner_principal(learner),
        "backpack.import",
        "imported_badge",
        row.public_id,
        after={"source": row.source, "kind": row.kind, "state": row.state},
    )
    return row, verdict


def remove_badge(session: Session, learner: Learner, public_id: str) -> None:
    """Remove one of the learner's imported badges, audited as ``backpack.remove``. Raises NotFound."""
    row = backpack.find(session, learner, public_id)
    audit.record(
        session,
        learner_principal(learner),
        "backpack.remove",
        "imported_badge",
        row.public_id,
        before={"kind": row.kind, "state": row.state},
    )
    backpack.remove(session, row)


def _targets(session: Session, ctx: HubContext):
    hours = ctx.settings.backpack_recheck_hours
    # one job per interval, and none while nobody has imported a badge (no empty job every day)
    if hours > 0 and session.scalar(select(ImportedBadge.id).limit(1)) is not None:
        yield "all", {}, None, hours * 3600


def run_reverify(ctx: HubContext, run: jobs.JobRun) -> None:
    """The ``backpack.reverify`` job: verify every imported badge again, :data:`BATCH` per transaction,
    in id order from where a crashed attempt stopped (``after`` in the job's progress message). A badge
    whose state changed gets an outbox e-mail to its learner; the runner sends it after the commit."""
    after = 0
    done = 0
    while True:
        with ctx.db.session_scope() as session:
            rows = list(
                session.scalars(
                    select(ImportedBadge).where(ImportedBadge.id > after).order_by(ImportedBadge.id).limit(BATCH)
                )
            )
            if not rows:
                return
            for row in rows:
                try:
                    with session.begin_nested():
                        backpack.reverify(session, ctx, row)
                except Exception:  # noqa: BLE001 - one badge must not stop the others; logged, tried next time
                    log.exception("imported badge %s could not be re-verified", row.public_id)
            after = rows[-1].id
            done += len(rows)
            after_commit(session, jobs.wake, ctx)
        run.progress(done, None, f"after {after}")


def reverify_now(session: Session, ctx: HubContext) -> jobs.Job | None:
    """Queue a ``backpack.reverify`` job now (CLI, tests); it runs once the caller commits."""
    from hub.db import new_public_id

    return jobs.enqueue(session, REVERIFY, {}, dedup_key=f"{REVERIFY}:now:{new_public_id()}", ctx=ctx)


jobs.register(REVERIFY, run_reverify, max_attempts=3, schedule=jobs.Schedule(_targets))
