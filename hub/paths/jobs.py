"""The ``path.check`` job's enqueueing (its handler is :func:`hub.operations.paths.check_job`): kept
apart from :mod:`hub.paths.services`, which credentials import and which must not reach the job system."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from hub import jobs
from hub.badges.models import Assertion
from hub.context import HubContext
from hub.paths.services import step_badge_ids

KIND = "path.check"


def enqueue_checks(session: Session, ctx: HubContext, assertions: Iterable[Assertion]) -> None:
    """Enqueue one ``path.check`` job for those of ``assertions`` whose badge class is a path step
    (nothing, and no statement beyond one cached look-up per transaction, otherwise)."""
    steps = step_badge_ids(session)
    if not steps:
        return
    ids = [a.id for a in assertions if a.badge_class_id in steps]
    if ids:
        if KIND not in jobs.KINDS:  # a process that has not loaded the kinds (a bare runner, a script)
            import hub.operations.paths  # noqa: F401  (registers the handler)
        jobs.enqueue(session, KIND, {"assertions": ids}, ctx=ctx)
