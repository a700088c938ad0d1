"""The runner: one loop that drains every durable queue — inbox events, award e-mails, jobs — and
enqueues scheduled jobs, in the web process (``HUB_JOB_MODE=thread``, the embedded default), in
``badgehub worker`` processes (``worker``), or inline after each commit (``sync``: tests, the demo).

``thread`` and ``worker`` run the very same loop (:meth:`Runner.loop`); the only difference is the
process it lives in. Every pass looks at the database, so work left by a crash, a restart, another
process (``badgehub moodle sync`` from a shell) or a database outage is picked up while the process
runs, not only when it starts. A runner that loses the database in the middle of a batch keeps the
claims it holds and takes them back once the database answers — every claim names the runner thread
that made it (``claimed_by``, a random token per thread), so even a claim whose answer the outage lost
is found — and an outage does not strand events, e-mails or jobs until their lease runs out.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid

from sqlalchemy.exc import SQLAlchemyError

from hub import jobs
from hub.context import HubContext
from hub.inbox import services as inbox
from hub.learners import notifications
from hub.outgoing import services as outgoing

log = logging.getLogger(__name__)

#: How often a runner enqueues due scheduled jobs, seconds.
SCHEDULE_EVERY = 30.0


class Runner:
    """Runs the hub's background work for one process.

    Args:
        ctx: the hub context.
        threads: loop threads in ``thread``/``worker`` mode (two: a long job in one leaves the other for
            events and e-mails).
        batch: events claimed per transaction.
    """

    def __init__(self, ctx: HubContext, *, threads: int | None = None, batch: int = 50):
        self.ctx = ctx
        self.mode = ctx.settings.job_mode
        self.threads = threads or ctx.settings.worker_threads
        self.batch = batch
        self._wake = threading.Event()
        self._local = threading.local()
        self._stop = threading.Event()
        self._started_pid: int | None = None
        self._lock = threading.Lock()
        self._next_schedule = 0.0
        self._threads: list[threading.Thread] = []
        #: Events this runner has processed (all threads), for ``badgehub worker``'s summary and tests.
        self.events_done = 0

    # ---- what requests and operations call ----------------------------------------------------------

    def wake(self) -> None:
        """New work was committed: in ``sync`` mode do it now; otherwise let the loop look at once
        (starting this process's loop threads in ``thread`` mode if they are not running yet)."""
        if self.mode == "sync":
            if not getattr(self._local, "draining", False):  # a wake-up from inside a drain: it loops on
                self._local.draining = True
                try:
                    self.drain()
                finally:
                    self._local.draining = False
            return
        if self.mode == "thread":
            self.start()
        self._wake.set()

    def enqueue(self, event_id: int) -> None:
        """An inbox event was committed (kept for the connectors' call sites: same as :meth:`wake`)."""
        self.wake()

    def deliver(self, notification_ids=()) -> None:
        """Award e-mails were committed (outbox rows): same as :meth:`wake`."""
        if list(notification_ids):
            self.wake()

    # ---- the loop ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop threads of this process once (again after a fork: a gunicorn worker forked
        from a master that started them has none running). Only in ``thread`` mode: in ``worker`` mode
        the web process leaves the work to ``badgehub worker`` (which runs :meth:`loop` itself), and in
        ``sync`` mode :meth:`wake` does it inline."""
        if self.mode != "thread" or self._started_pid == os.getpid():
            return
        with self._lock:
            if self._started_pid == os.getpid():
                return
            self._stop.clear()
            self._threads = [
                threading.Thread(target=self.loop, name=f"hub-runner-{i}", daemon=True) for i in range(self.threads)
            ]
            for t in self._threads:
                t.start()
            self._started_pid = os.getpid()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop threads to finish what they hold and return (waits up to ``timeout`` seconds)."""
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout)
        self._started_pid = None

    def loop(self, stop: threading.Event | None = None) -> None:
        """Run passes until ``stop`` (or :meth:`stop`) is set; sleep ``HUB_WORKER_POLL_MS`` when idle,
        less after a wake-up. A database outage is logged once per outage and retried."""
        stop = stop or self._stop
        down = False
        while not stop.is_set() and not self._stop.is_set():
            try:
                busy = self.run_pass()
                if down:
                    log.warning("job runner: the database answers again")
                    down = False
            except SQLAlchemyError as exc:
                self._local.interrupted = True
                if not down:
                    log.warning("job runner cannot reach the database (%s); retrying", exc.__class__.__name__)
                down, busy = True, False
            except Exception:  # noqa: BLE001 - a bug in one pass must not end the loop
                log.exception("job runner pass failed")
                busy = False
            if not busy:
                self._wake.wait(self.ctx.settings.worker_poll_seconds)
                self._wake.clear()

    def run_pass(self, *, schedule: bool = True) -> bool:
        """One pass: held events, a batch of new events, the e-mail outbox, the outgoing webhook outbox
        (:func:`hub.outgoing.services.deliver`), one job, and (every
        :data:`SCHEDULE_EVERY` s) the schedule. Returns whether it did anything (so the loop goes on
        without sleeping).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database failed (the loop retries).
        """
        owner = self._owner()
        busy = self._take_back(owner)
        ids = inbox.claim(self.ctx, limit=self.batch, owner=owner)
        if ids:
            self._process(ids)
            busy = True
        if notifications.deliver(self.ctx, owner=owner):
            busy = True
        if outgoing.deliver(self.ctx, owner=owner):
            busy = True
        claimed = jobs.claim(self.ctx, limit=1, owner=owner)
        for job_id in claimed:
            jobs.run(self.ctx, job_id)
            busy = True
        now = time.monotonic()
        if schedule and now >= self._next_schedule:
            self._next_schedule = now + SCHEDULE_EVERY
            if jobs.schedule_due(self.ctx):
                busy = True
        return busy

    def _owner(self) -> str:
        """This thread's claim token (one per loop thread, new per process)."""
        owner = getattr(self._local, "owner", None)
        if owner is None:
            owner = self._local.owner = str(uuid.uuid4())
        return owner

    def _process(self, ids: list[int]) -> None:
        try:
            self.events_done += len(inbox.process_claimed(self.ctx, ids))
        except SQLAlchemyError:
            self._local.interrupted = True
            raise

    def _take_back(self, owner: str) -> bool:
        """After a database error in this thread: process the events and run the jobs it still holds,
        and put its unsent e-mails back in the queue. Returns whether there were any."""
        if not getattr(self._local, "interrupted", False):
            return False
        events = inbox.own_claims(self.ctx, owner)
        held_jobs = jobs.own_claims(self.ctx, owner)
        mails = notifications.release_own(self.ctx, owner) + outgoing.release_own(self.ctx, owner)
        self._local.interrupted = False
        if events or held_jobs or mails:
            log.info(
                "job runner: taking back %d events, %d jobs and %d e-mails held through a database outage",
                len(events),
                len(held_jobs),
                mails,
            )
        if events:
            self._process(events)
        for job_id in held_jobs:
            jobs.run(self.ctx, job_id)
        return bool(events or held_jobs or mails)

    def drain(self, *, max_passes: int = 10_000) -> int:
        """Run passes in this thread until one finds nothing to do (``sync`` mode, tests, ``badgehub
        worker --once``); jobs whose backoff has not ended are left, and nothing is scheduled (the loop's
        business). Returns the number of events processed.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database failed.
        """
        before, passes = self.events_done, 0
        while passes < max_passes and self.run_pass(schedule=False):
            passes += 1
        return self.events_done - before

    shutdown = stop


def load_kinds() -> None:
    """Register every job kind: the hub's own (importing their modules registers them) and the
    installed connectors' (:meth:`connectors.base.Connector.register_jobs`, called when the registry
    loads them). Idempotent."""
    import hub.certificates.jobs  # noqa: F401  (registers certificate.render)
    import hub.models  # noqa: F401  (every table: a worker's flush resolves every foreign key, as the app's does)
    import hub.operations.backpack  # noqa: F401  (registers backpack.reverify)
    import hub.operations.bulk  # noqa: F401  (registers bulk.award)
    import hub.operations.obapi  # noqa: F401  (registers obapi.purge)
    import hub.operations.paths  # noqa: F401  (registers path.check)
    import hub.outgoing.services  # noqa: F401  (registers webhooks.disabled_mail, webhooks.expired_scan)
    from hub.connections import registry

    registry.available()
