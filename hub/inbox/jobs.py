"""Runs inbox processing after the request's commit: in a thread (default), inline, or not at all
(``HUB_JOB_MODE=worker``, where ``badgehub worker`` picks events up from the database).

The inbox table is the queue: an event is a row before it is acknowledged, so a separate broker would
be a second source of truth. Workers claim rows with a conditional UPDATE, which is atomic on SQLite
and PostgreSQL alike, so several workers never process the same event.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.exc import SQLAlchemyError

from hub.context import HubContext
from hub.inbox.services import claimable_ids, process_event
from hub.learners import notifications

log = logging.getLogger(__name__)


class JobDispatcher:
    """Dispatches ``process_event`` jobs according to ``settings.job_mode``."""

    def __init__(self, ctx: HubContext):
        self.ctx = ctx
        self.mode = ctx.settings.job_mode
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="hub-job") if self.mode == "thread" else None

    def enqueue(self, event_id: int) -> None:
        """Process ``event_id`` (call only after the row is committed)."""
        if self.mode == "sync":
            process_event(self.ctx, event_id)
        elif self._pool is not None:
            self._pool.submit(self._run, event_id)

    def _run(self, event_id: int) -> None:
        try:
            process_event(self.ctx, event_id)
        except Exception:  # the row stays pending/processing; recovery picks it up again
            log.exception("job for event %s crashed", event_id)

    def recover(self) -> None:
        """Pick up events left pending by a crash or a restart (thread mode; the worker does its own)."""
        if self._pool is None:
            return

        def scan():
            try:
                ids = claimable_ids(self.ctx, limit=10_000)
            except SQLAlchemyError as exc:  # e.g. the database is not initialised yet
                log.warning("recovery scan skipped: %s", exc.__class__.__name__)
                return
            if ids:
                log.info("recovering %d pending events", len(ids))
            for event_id in ids:
                self._pool.submit(self._run, event_id)

        threading.Thread(target=scan, name="hub-recover", daemon=True).start()

    def shutdown(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait)


def run_worker(ctx: HubContext, stop: threading.Event, *, once: bool = False, batch: int = 100) -> int:
    """Process pending events until ``stop`` is set (or, with ``once``, until none are left).

    Returns the number of events this worker processed. Database outages are logged and retried
    after ``settings.worker_poll_seconds``.
    """
    done = 0
    while not stop.is_set():
        try:
            ids = claimable_ids(ctx, limit=batch)
        except SQLAlchemyError as exc:
            log.warning("worker cannot reach the database (%s); retrying", exc.__class__.__name__)
            stop.wait(ctx.settings.worker_poll_seconds)
            continue
        for event_id in ids:
            if stop.is_set():
                break
            if process_event(ctx, event_id) is not None:
                done += 1
        if not ids:
            notifications.deliver(ctx)  # award e-mails left pending by a crash or a mail outage
            if once:
                break
            stop.wait(ctx.settings.worker_poll_seconds)
    return done
