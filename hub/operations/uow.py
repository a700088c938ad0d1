"""The unit of work: one transaction per boundary (a request, a job, a CLI command), committed once,
rolled back on any error, with after-commit effects that run only when the commit succeeded.

Services and operations only ``flush``; the boundary commits (indico's habit, DESIGN.md):
:meth:`hub.db.Database.session_scope` for jobs and the CLI, the request session for the web
(:func:`hub.context.request_session`, committed by the app's ``after_request`` hook). Effects that must
not happen for a transaction that rolls back — waking the job runner for a new job row, delivering an
e-mail queued in an outbox row — are registered with :func:`after_commit` on the session and run after
its outermost commit, in registration order, through SQLAlchemy's session events
(https://docs.sqlalchemy.org/en/20/orm/events.html#sqlalchemy.orm.SessionEvents.after_commit). A
rollback drops them. An effect that raises is logged and never undoes the commit: every effect here is
a wake-up or a delivery whose durable record (the job row, the outbox row) is already committed, so the
job runner picks it up later anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_KEY = "hub.after_commit"


def after_commit(session: Session, effect: Callable[..., Any], *args: Any) -> None:
    """Run ``effect(*args)`` once ``session``'s transaction has committed; never if it rolls back.

    An effect registered twice (same function, same arguments) runs once."""
    if not session.in_transaction():
        session.begin()  # bind the effect to a transaction (no connection is taken until a statement)
    effects = session.info.setdefault(_KEY, [])
    if (effect, args) not in effects:
        effects.append((effect, args))


def pending_effects(session: Session) -> int:
    """How many effects wait for ``session``'s commit (tests and logs)."""
    return len(session.info.get(_KEY, ()))


@event.listens_for(Session, "after_commit")
def _run_effects(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint released: the transaction is not committed yet
        return
    for effect, args in session.info.pop(_KEY, ()):
        try:
            effect(*args)
        except Exception:  # noqa: BLE001 - the commit stands; the durable row is picked up later
            log.exception("after-commit effect %s failed", getattr(effect, "__qualname__", effect))


@event.listens_for(Session, "after_soft_rollback")
def _drop_effects(session: Session, previous_transaction) -> None:
    # A savepoint rolled back keeps the effects registered before and inside it: each is a wake-up or a
    # delivery keyed on rows, harmless when the rows are not there; the outermost rollback (also one
    # that had not touched the database yet) drops them all.
    if previous_transaction.parent is None:
        session.info.pop(_KEY, None)
