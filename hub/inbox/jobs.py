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
from hub.inbox.services import claim, process_claimed, process_event
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

    def deliver(self, notification_ids) -> None:
        """Send award e-mails a committed transaction queued (outbox rows, e.g. of a console or API
        award): inline (``sync``), in the job threads (``thread``), or by ``badgehub worker``'s loop,
        which sends pending rows (``worker``). Never raises (:func:`hub.learners.notifications.deliver`)."""
        ids = list(notification_ids)
        if not ids:
            return
        if self.mode == "sync":
            notifications.deliver(self.ctx, ids)
        elif self._pool is not None:
            self._pool.submit(notifications.deliver, self.ctx, ids)

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
            recovered = run_worker(self.ctx, threading.Event(), once=True)
            if recovered:
                log.info("recovered %d events left waiting", recovered)

        threading.Thread(target=scan, name="hub-recover", daemon=True).start()

    def shutdown(self, wait: bool = True) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=wait)


def run_worker(ctx: HubContext, stop: threading.Event, *, once: bool = False, batch: int = 50) -> int:
    """Process waiting events until ``stop`` is set (or, with ``once``, until none are left).

    Claims up to ``batch`` events at a time (workers take disjoint batches) and processes each batch in
    one transaction (:func:`hub.inbox.services.process_claimed`); a stop request finishes the batch at
    hand. Returns the number of events this worker processed. Database outages are logged and retried
    after ``settings.worker_poll_seconds``; claimed events of a failed batch are picked up again once
    ``HUB_STALE_PROCESSING_SECONDS`` have passed.
    """
    done = 0
    while not stop.is_set():
        try:
            ids = claim(ctx, limit=batch)
            if ids:
                done += len(process_claimed(ctx, ids))
                continue
            notifications.deliver(ctx)  # award e-mails left pending by a crash or a mail outage
        except SQLAlchemyError as exc:
            log.warning("worker cannot reach the database (%s); retrying", exc.__class__.__name__)
        if once:
            break
        stop.wait(ctx.settings.worker_poll_seconds)
    return done
