"""Proof under faults: signed events, a bulk CSV job and e-mails through kill -9s and a database cut.

    python bench/faults.py [--events 10000] [--mode worker|thread|both] [--db postgresql://...]

For each job mode (``--mode both``: worker, then thread), on a fresh PostgreSQL database made and
dropped by the run (on the server of ``--db``, default ``BENCH_PG_URL`` or the local one):

- the hub reaches PostgreSQL through a TCP proxy (:mod:`bench.tcpproxy`, in a process of its own so
  the sender's threads do not slow it), which the run switches to *refuse* and *black-hole*;
- 2 web processes (``gunicorn -w 2 --worker-class gthread hub.wsgi:app``), and in worker mode 3
  ``badgehub worker`` processes (``HUB_JOB_MODE=worker``); in thread mode the web processes do the
  work (``HUB_JOB_MODE=thread``);
- award e-mails go over SMTP (``HUB_MAIL_BACKEND=smtp``) to a sink in this process
  (:mod:`bench.smtpsink`) that counts the messages each recipient received;
- a 2,000-row bulk CSV job, made as the console makes it (:func:`hub.operations.bulk.parse_csv`, a
  ``BulkJob`` row, :func:`hub.operations.bulk.start` in a script session: a ``bulk.award`` job of the
  job system), with e-mails;
- ``--events`` distinct Standard-Webhooks-signed course completions from ``--senders`` threads; each
  is retried like a real sender retries (503, 5xx, a reset connection or a timeout: again, re-signed,
  after a short backoff, up to :data:`RETRY_FOR` seconds) until answered 202 (stored) or 200 (stored
  by an earlier delivery whose answer was lost).

Faults, in this order:

1. load: all but the last ``--tail`` events are sent while ``kill -9`` hits a random worker every
   1-3 s (``badgehub worker`` processes in worker mode, restarted at once; gunicorn workers in
   thread mode, which their master restarts), at least ``--kills`` times, and the gunicorn master is
   killed once (``kill -9``, started again on the same port) when 40 % of the load is acknowledged;
2. settle: the kills stop, and the run waits until the backlog is empty (events, e-mails and jobs
   left by the dead processes are taken over once their claims go stale);
3. cut: the tail is sent, and once a third of it is acknowledged (so batches are in flight), the
   database is refused for 7 s (listener closed, open connections reset) and then black-holed for
   8 s (accepted, never answered);
4. drain: the database returns; the run waits (at most ``--drain-timeout`` s) until every event,
   e-mail and job is finished.

Printed: acknowledged, stored, awarded, duplicated (a source key with more than one assertion), the
bulk job's outcome, e-mails sent once / twice (from the sink), stuck work (events pending or
processing, e-mails not sent, jobs not done), the time to drain after the database's return, the
sender's answers, and peak RSS (``VmHWM``) of the web and worker processes. Targets: 0 lost, 0
duplicated, 0 stuck, every acknowledged event awarded, drained within :data:`DRAIN_TARGET` s of the
database's return. Exit status 0 when every target is met in every mode.

The Moodle sync: the Moodle contract server of the tests (``tests/moodle_bridge/moodle_fake.py``,
answering from the recordings in ``../shared/ref/moodle``) is served on 127.0.0.1 with
:data:`MOODLE_LEARNERS` learners who completed the course; a Moodle site connector with a rule is made
and one "Sync now" is started through the operation (:func:`moodle_bridge.sites.start_sync`): a
``moodle.sync`` job that the kills and the cut hit like everything else. Without the recordings the
run says so and skips that part.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import queue
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/faults.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

import bench.common as common
from bench.common import (
    SLUG,
    Gunicorn,
    completion_body,
    fresh_database,
    hub_context,
    hub_env,
    mib,
    proc_status_kib,
    setup_award_pipeline,
    signed_request,
    wait_gone,
)
from bench.smtpsink import SmtpSink

DRAIN_TARGET = 10.0  # seconds after the database's return
RETRY_FOR = 150.0  # a sender gives an event up after this many seconds of failed deliveries
REFUSE_SECONDS, BLACKHOLE_SECONDS = 7.0, 8.0
BULK_ROWS = 2000
MOODLE_LEARNERS = 500
WEB_WORKERS, JOB_WORKERS = 2, 3


# ---- the proxy, in a process of its own --------------------------------------------------------


def _proxy_main(target: tuple[str, int], conn) -> None:
    from bench.tcpproxy import TcpProxy

    proxy = TcpProxy(target).start()
    conn.send(proxy.port)
    while True:
        mode = conn.recv()
        if mode == "stop":
            proxy.stop()
            conn.send("stopped")
            return
        proxy.set_mode(mode)
        conn.send(mode)


class ProxyProcess:
    """:class:`bench.tcpproxy.TcpProxy` in a child process; :meth:`set_mode` switches it."""

    def __init__(self, target: tuple[str, int]):
        spawn = mp.get_context("spawn")
        self._conn, child = spawn.Pipe()
        self.proc = spawn.Process(target=_proxy_main, args=(target, child), daemon=True)
        self.proc.start()
        self.port = self._conn.recv()

    def set_mode(self, mode: str) -> None:
        """``forward``, ``refuse`` or ``blackhole``; returns once the proxy applied it."""
        self._conn.send(mode)
        self._conn.recv()

    def stop(self) -> None:
        """Stop the proxy and its process."""
        try:
            self._conn.send("stop")
            self._conn.recv()
        finally:
            self.proc.join(10)
            if self.proc.is_alive():
                self.proc.kill()


# ---- the sender ----------------------------------------------------------------------------------


@dataclass
class Sender:
    """Delivers signed events from ``threads`` threads, retrying as a webhook sender does."""

    url: str
    run: str
    threads: int
    acked: set[str] = field(default_factory=set)
    answers: Counter = field(default_factory=Counter)
    gave_up: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, indices: range, on_ack=None) -> None:
        """Send the events ``indices`` (blocks until each is acknowledged or given up)."""
        todo: queue.Queue[int] = queue.Queue()
        for n in indices:
            todo.put(n)
        workers = [threading.Thread(target=self._drain, args=(todo, on_ack), daemon=True) for _ in range(self.threads)]
        for t in workers:
            t.start()
        for t in workers:
            t.join()

    def _drain(self, todo: queue.Queue, on_ack) -> None:
        with requests.Session() as http:
            while True:
                try:
                    n = todo.get_nowait()
                except queue.Empty:
                    return
                if self._deliver(http, n) and on_ack is not None:
                    on_ack(len(self.acked))

    def _deliver(self, http: requests.Session, n: int) -> bool:
        body = completion_body(n, self.run).encode("utf-8")
        msg_id = f"msg_{self.run}_{n}"
        give_up, attempt = time.monotonic() + RETRY_FOR, 0
        while time.monotonic() < give_up:
            attempt += 1
            headers = {**signed_request(body.decode("utf-8"), msg_id), "content-type": "application/json"}
            t0 = time.monotonic()
            try:
                r = http.post(self.url, data=body, headers=headers, timeout=(3, 20))
                outcome = str(r.status_code)
            except requests.Timeout:
                outcome = "timeout"
            except requests.ConnectionError:
                outcome = "connection error"
            with self.lock:
                self.answers[outcome] += 1
                if outcome.isdigit():
                    self.latencies.append(time.monotonic() - t0)
                if outcome in ("200", "202"):
                    self.acked.add(msg_id)
                    return True
            if outcome.isdigit() and int(outcome) < 500 and outcome != "429":
                break  # refused for good (a 4xx): a sender does not retry that
            time.sleep(min(2.0, 0.1 * 2**attempt) * random.uniform(0.5, 1.0))
        with self.lock:
            self.gave_up.append(msg_id)
        return False


# ---- the hub's processes -------------------------------------------------------------------------


class Hub:
    """The web processes (one gunicorn master, :data:`WEB_WORKERS` workers) and, in worker mode,
    :data:`JOB_WORKERS` ``badgehub worker`` processes; records the peak RSS of each role."""

    def __init__(self, mode: str, env: dict[str, str], work: Path):
        self.mode, self.env, self.work = mode, env, work
        self.badgehub = str(Path(sys.executable).parent / "badgehub")
        self._worker_log = (work / "workers.log").open("a")
        self.lock = threading.Lock()
        self.peak: dict[str, dict[int, int]] = {"web master": {}, "web workers": {}, "job workers": {}}
        args = ["--workers", str(WEB_WORKERS), "--worker-class", "gthread", "--threads", "4", "--timeout", "60"]
        self.web = Gunicorn("hub.wsgi:app", env, args, work / "gunicorn.log")
        self.workers: list[subprocess.Popen] = []
        if mode == "worker":
            self.workers = [self._spawn_worker() for _ in range(JOB_WORKERS)]
        self.kills = 0
        self.master_kills = 0

    def _spawn_worker(self) -> subprocess.Popen:
        return subprocess.Popen(
            [self.badgehub, "worker"], env={**os.environ, **self.env}, stdout=self._worker_log, stderr=self._worker_log
        )

    def sample(self) -> None:
        """Record the peak RSS of every live process of the hub."""
        with self.lock:
            roles = {"web master": [self.web.proc.pid], "web workers": self.web.workers()}
            roles["job workers"] = [p.pid for p in self.workers]
        for role, pids in roles.items():
            for pid in pids:
                kib = proc_status_kib(pid, "VmHWM")
                if kib is not None:
                    self.peak[role][pid] = max(kib, self.peak[role].get(pid, 0))

    def kill_random_worker(self) -> bool:
        """``kill -9`` one random worker: a ``badgehub worker`` (started again at once) in worker mode,
        a gunicorn worker (its master starts another) in thread mode. Returns whether one was killed."""
        self.sample()
        with self.lock:
            if self.mode == "worker":
                i = random.randrange(len(self.workers))
                victim = self.workers[i]
                victim.send_signal(signal.SIGKILL)
                victim.wait(30)
                self.workers[i] = self._spawn_worker()
            else:
                pids = self.web.workers()
                if not pids:
                    return False
                try:
                    os.kill(random.choice(pids), signal.SIGKILL)
                except ProcessLookupError:
                    return False
            self.kills += 1
        return True

    def kill_master(self) -> None:
        """``kill -9`` the gunicorn master; once its orphaned workers are gone, start it again."""
        self.sample()
        with self.lock:
            orphans = self.web.kill()
            wait_gone(orphans)
            self.web.restart()
            self.master_kills += 1

    def stop(self) -> None:
        """SIGTERM every process (the workers finish their batch), then SIGKILL what is left."""
        self.sample()
        for p in self.workers:
            p.send_signal(signal.SIGTERM)
        self.web.stop()
        for p in self.workers:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
        self._worker_log.close()


class Killer(threading.Thread):
    """Kills a random worker every 1-3 s until :meth:`finish` is called, but not before ``at_least``."""

    def __init__(self, hub: Hub, at_least: int):
        super().__init__(daemon=True, name="killer")
        self.hub, self.at_least = hub, at_least
        self._finish = threading.Event()
        self.done = threading.Event()
        self.errors: list[str] = []

    def run(self) -> None:
        while not (self._finish.is_set() and self.hub.kills >= self.at_least):
            time.sleep(random.uniform(1.0, 3.0))
            try:
                self.hub.kill_random_worker()
            except Exception as exc:  # noqa: BLE001 - reported; the run goes on
                self.errors.append(f"{type(exc).__name__}: {exc}")
        self.done.set()

    def finish(self, timeout: float) -> None:
        """Stop after the ``at_least``-th kill (waits up to ``timeout`` s)."""
        self._finish.set()
        self.done.wait(timeout)


# ---- counting ------------------------------------------------------------------------------------


def backlog(ctx) -> dict[str, int]:
    """Unfinished work: events pending/processing, e-mails pending/sending, jobs pending/running."""
    from hub.inbox.models import InboundEvent
    from hub.jobs.models import Job
    from hub.learners.models import Notification

    with ctx.db.read_scope() as s:
        return {
            "events": s.scalar(select(func.count()).where(InboundEvent.status.in_(("pending", "processing")))),
            "e-mails": s.scalar(select(func.count()).where(Notification.status.in_(("pending", "sending")))),
            "jobs": s.scalar(select(func.count()).where(Job.status.in_(("pending", "running")))),
        }


def wait_for(condition, timeout: float, every: float = 0.25) -> float | None:
    """Poll ``condition()`` until true; returns the seconds it took, or None after ``timeout``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if condition():
            return time.monotonic() - t0
        time.sleep(every)
    return None


def outcome(ctx, sender: Sender, sink: SmtpSink) -> dict:
    """The run's figures, read from the database (directly, not through the proxy) and the sink."""
    from hub.accounts.models import BulkJob
    from hub.badges.models import Assertion
    from hub.inbox.models import InboundEvent
    from hub.jobs.models import Job
    from hub.learners.models import Notification

    with ctx.db.read_scope() as s:
        stored = set(s.scalars(select(InboundEvent.external_id)))
        awarded = set(
            s.scalars(
                select(InboundEvent.external_id)
                .join(Assertion, Assertion.source_event_id == InboundEvent.id)
                .distinct()
            )
        )
        duplicated = s.scalar(
            select(func.count()).select_from(
                select(Assertion.badge_class_id, Assertion.source_key)
                .group_by(Assertion.badge_class_id, Assertion.source_key)
                .having(func.count() > 1)
                .subquery()
            )
        )
        assertions = s.scalar(select(func.count()).select_from(Assertion))
        recipients = Counter(r.lower() for r in s.scalars(select(Assertion.recipient_plain)) if r)
        events = dict(s.execute(select(InboundEvent.status, func.count()).group_by(InboundEvent.status)).all())
        mails = dict(s.execute(select(Notification.status, func.count()).group_by(Notification.status)).all())
        jobs = dict(s.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        bulk = s.scalars(select(BulkJob)).one()
        bulk_created = s.scalar(select(func.count()).where(Assertion.source_key.like("bulk:%")))
        failed_reasons = Counter(
            (r or "")[:100] for r in s.scalars(select(InboundEvent.reason).where(InboundEvent.status == "failed"))
        )
        job_errors = [
            (k, st, e) for k, st, e in s.execute(select(Job.kind, Job.status, Job.last_error)) if st != "done"
        ]
    got = sink.counts()
    return {
        "acked": len(sender.acked),
        "stored": len(stored),
        "lost": len(sender.acked - stored),
        "awarded": len(sender.acked & awarded),
        "not awarded": len(sender.acked - awarded),
        "assertions": assertions,
        "duplicated": duplicated,
        "events": events,
        "failed reasons": failed_reasons,
        "mails": mails,
        "jobs": jobs,
        "job errors": job_errors,
        "bulk": (bulk.status, bulk.done, bulk.total, bulk.created, len(bulk.errors or []), bulk_created),
        "mail expected": sum(recipients.values()),
        "mail once": sum(1 for r, n in recipients.items() if got[r] == n),
        "mail twice": sum(1 for r, n in recipients.items() if got[r] > n),
        "mail copies extra": sum(max(0, got[r] - n) for r, n in recipients.items()),
        "mail missing": sum(1 for r, n in recipients.items() if got[r] < n),
        "mail unexpected": sum(n for r, n in got.items() if r not in recipients),
    }


# ---- one run -------------------------------------------------------------------------------------


def make_bulk_job(ctx, rows: int) -> str:
    """A ``rows``-row CSV bulk job, started as the console starts one (operations layer, e-mails on)."""
    from hub.accounts.access import Principal
    from hub.accounts.models import BulkJob
    from hub.accounts.services import create_user
    from hub.badges.models import BadgeClass
    from hub.operations import bulk

    with ctx.db.session_scope() as s:
        user = create_user(s, email="bench.admin@example.org", password=uuid.uuid4().hex, site_admin=True)
        badge = s.scalars(select(BadgeClass)).one()
        lines = ["email,name,badge"] + [
            f"bulk.{i}@szkoła.example.pl,Łucja Bulk {i},{badge.public_id}" for i in range(rows)
        ]
        parsed, errors = bulk.parse_csv("\n".join(lines).encode("utf-8"), [badge])
        if errors:
            raise RuntimeError(f"bulk CSV refused: {errors[:3]}")
        job = BulkJob(
            issuer_id=badge.issuer_id,
            user_id=user.id,
            filename="bench.csv",
            rows=parsed,
            total=len(parsed),
            status="preview",
        )
        s.add(job)
        s.flush()
        bulk.start(s, ctx, Principal.for_user(user), job, notify=True)
        return job.public_id


MOODLE_REF = Path(__file__).resolve().parent.parent.parent / "shared" / "ref" / "moodle"


class MoodleSite:
    """The Moodle contract server on 127.0.0.1 with ``learners`` completions of its course, a Moodle
    site connector of the bench's issuer with a rule, and one sync started as "Sync now" starts it."""

    def __init__(self, ctx, learners: int):
        from werkzeug.serving import make_server

        from tests.moodle_bridge.moodle_fake import FakeMoodle

        self.fake = FakeMoodle.from_recordings(MOODLE_REF)
        course = self.course = next(iter(self.fake.courses))
        for uid in self.fake.add_students(course, learners, first_id=50_000):
            self.fake.completed[(course, uid)] = None
        from werkzeug.wrappers import Request

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per Moodle request
        self.server = make_server("127.0.0.1", 0, Request.application(self.fake.handle), threaded=True)
        self.fake.site_url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.learners = learners
        self.start_sync(ctx)

    def start_sync(self, ctx) -> None:
        import json as _json

        from hub.accounts.access import Principal
        from hub.badges.models import BadgeClass
        from hub.connections.models import ConnectorConfig
        from hub.rules.services import create_rule
        from moodle_bridge import sites

        with ctx.db.session_scope() as s:
            badge = s.scalars(select(BadgeClass)).first()
            row = ConnectorConfig(
                slug="moodle-bench",
                kind="moodle",
                name="Moodle (bench)",
                issuer_id=badge.issuer_id,
                config={
                    "site_url": self.fake.site_url,
                    "course_ids": [self.course],
                    "competencies": False,
                    "page_size": 50,
                },
                secrets_encrypted=ctx.box.encrypt(_json.dumps(["good-token"]).encode()),
            )
            s.add(row)
            s.flush()
            create_rule(s, row, badge, event_type="course_completed")
            sites.start_sync(s, ctx, Principal(None, "bench", site_admin=True, via="cli"), row)

    def outcome(self, ctx) -> str:
        from hub.badges.models import Assertion
        from moodle_bridge.models import MoodleSyncRun

        with ctx.db.read_scope() as s:
            # "Sync now" and, once its slot comes, the site's scheduled sync: the newest run reports.
            runs = list(s.scalars(select(MoodleSyncRun).order_by(MoodleSyncRun.id)))
            run = runs[-1]
            awarded = s.scalar(select(func.count()).where(Assertion.recipient_plain.like("learner5%@example.org")))
            return (
                f"Moodle sync     {len(runs)} runs ({', '.join(r.status for r in runs)}), "
                f"{sum(r.submitted or 0 for r in runs)} completions submitted, {awarded} of "
                f"{self.learners} learners awarded" + (f"; error: {run.error}" if run.error else "")
            )

    def ok(self, ctx) -> bool:
        from hub.badges.models import Assertion

        with ctx.db.read_scope() as s:
            awarded = s.scalar(select(func.count()).where(Assertion.recipient_plain.like("learner5%@example.org")))
        return awarded == self.learners

    def stop(self) -> None:
        self.server.shutdown()


def moodle_site(ctx) -> MoodleSite | None:
    """The Moodle part of the run, or None (with the reason printed) without the recorded responses."""
    if not (MOODLE_REF / "ws_site_info.json").exists():
        print(f"Moodle sync: SKIPPED - the recorded Moodle responses are not at {MOODLE_REF}", flush=True)
        return None
    return MoodleSite(ctx, MOODLE_LEARNERS)


def run_mode(mode: str, opts, work: Path) -> tuple[bool, list[str]]:
    """One whole run in ``mode`` (``worker`` or ``thread``); returns (all targets met, printed lines)."""
    work.mkdir(parents=True, exist_ok=True)
    db = fresh_database("postgresql", work)
    url = make_url(db.url)
    proxy = ProxyProcess((url.host or "127.0.0.1", url.port or 5432))
    sink = SmtpSink().start()
    hub = None
    moodle: MoodleSite | None = None
    lines: list[str] = []
    try:
        ctx = hub_context(db.url, work / "instance")  # direct: setup and counting never go through the proxy
        setup_award_pipeline(ctx)
        via_proxy = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        env = {
            **hub_env(via_proxy, work / "instance", job_mode=mode),
            "HUB_MAIL_BACKEND": "smtp",
            "HUB_SMTP_URL": sink.url,
        }
        hub = Hub(mode, env, work)
        sampler_stop = threading.Event()

        def sample_loop():
            while not sampler_stop.wait(0.5):
                try:
                    hub.sample()
                except Exception:  # noqa: BLE001 - a process gone between listing and reading
                    pass

        threading.Thread(target=sample_loop, daemon=True).start()
        sender = Sender(f"http://127.0.0.1:{hub.web.port}/hooks/{SLUG}", uuid.uuid4().hex[:8], opts.senders)
        tail = min(opts.tail, opts.events // 2)
        load = opts.events - tail

        # 1. load, with kills of workers and one of the master
        t_start = time.monotonic()
        make_bulk_job(ctx, BULK_ROWS)
        moodle = moodle_site(ctx)
        killer = Killer(hub, opts.kills)
        killer.start()
        master_at = int(load * 0.4)
        master_kill = threading.Event()

        def on_ack(count: int) -> None:
            if count >= master_at and not master_kill.is_set():
                master_kill.set()
                threading.Thread(target=hub.kill_master, daemon=True, name="master-kill").start()

        sender.send(range(load), on_ack)
        t_loaded = time.monotonic()

        # 2. settle: no more kills; the backlog the dead processes left is taken over
        killer.finish(timeout=120)
        settle = wait_for(lambda: not any(backlog(ctx).values()), opts.settle_timeout, every=1.0)
        left_after_settle = backlog(ctx)

        # 3. the tail, and the database cut while it is in flight
        tail_thread = threading.Thread(target=sender.send, args=(range(load, opts.events),), daemon=True)
        acked_before_tail = len(sender.acked)
        tail_thread.start()
        wait_for(lambda: len(sender.acked) - acked_before_tail >= tail // 3, 60, every=0.05)
        in_flight = backlog(ctx)
        t_cut = time.monotonic()
        proxy.set_mode("refuse")
        time.sleep(REFUSE_SECONDS)
        proxy.set_mode("blackhole")
        time.sleep(BLACKHOLE_SECONDS)
        at_return = backlog(ctx)
        proxy.set_mode("forward")
        t_return = time.monotonic()

        # 4. drain
        drained = wait_for(
            lambda: not tail_thread.is_alive() and not any(backlog(ctx).values()), opts.drain_timeout, every=0.1
        )
        tail_thread.join(RETRY_FOR)
        t_end = time.monotonic()
        sampler_stop.set()
        hub.sample()
        figures = outcome(ctx, sender, sink)
        stuck = backlog(ctx)
        moodle_line = moodle.outcome(ctx) if moodle else "Moodle sync     SKIPPED (no recorded responses)"
        moodle_ok = moodle.ok(ctx) if moodle else True
        ctx.db.dispose()

        # ---- report
        f = figures
        out = lines.append
        answers = ", ".join(f"{k}={v}" for k, v in sorted(sender.answers.items()))
        lat = sorted(sender.latencies)
        p99 = lat[int(len(lat) * 0.99)] if lat else 0.0
        out(f"\n== Fault benchmark, {mode} mode: {opts.events} events + {BULK_ROWS}-row bulk job, PostgreSQL via proxy")
        out(
            f"processes: gunicorn master + {WEB_WORKERS} web workers"
            + (f", {JOB_WORKERS} badgehub workers" if mode == "worker" else " (they run the jobs: thread mode)")
            + f"; {os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.1f}"
        )
        victims = "badgehub workers" if mode == "worker" else "gunicorn workers"
        out(
            f"faults: {hub.kills} x kill -9 of {victims} (restarted), {hub.master_kills} x kill -9 of the gunicorn "
            f"master (restarted), database cut {REFUSE_SECONDS + BLACKHOLE_SECONDS:.0f} s "
            f"(refused {REFUSE_SECONDS:.0f} s, then black-holed {BLACKHOLE_SECONDS:.0f} s)"
            + (f"; killer errors: {killer.errors[:3]}" if killer.errors else "")
        )
        out(
            f"timeline: load {t_loaded - t_start:.0f} s, settle {'>' if settle is None else ''}"
            f"{settle if settle is not None else opts.settle_timeout:.0f} s (left: {left_after_settle}), "
            f"in flight at the cut {in_flight}, at the return {at_return}, whole run {t_end - t_start:.0f} s"
        )
        out(
            f"sender: {opts.senders} threads, {sum(sender.answers.values())} requests: {answers}; gave up "
            f"{len(sender.gave_up)}; answer p99 {p99:.2f} s, longest {lat[-1] if lat else 0:.1f} s"
        )
        out(f"acknowledged   {f['acked']} of {opts.events}")
        out(f"stored         {f['stored']} events (acknowledged but not stored, i.e. lost: {f['lost']})")
        out(f"events         {dict(sorted(f['events'].items()))}")
        if f["failed reasons"]:
            out(f"               failed because: {dict(f['failed reasons'].most_common(3))}")
        out(f"awarded        {f['awarded']} acknowledged events have their assertion (missing: {f['not awarded']})")
        out(f"assertions     {f['assertions']}; duplicated (a source key with more than one): {f['duplicated']}")
        status, done, total, created, row_errors, bulk_assertions = f["bulk"]
        out(
            f"bulk job       {status}: {done}/{total} rows, {created} created (assertions with a bulk key: "
            f"{bulk_assertions}), {row_errors} row errors"
        )
        out(
            f"e-mails        expected {f['mail expected']}: sent once {f['mail once']}, twice or more "
            f"{f['mail twice']} ({f['mail copies extra']} extra copies), missing {f['mail missing']}, "
            f"unexpected {f['mail unexpected']}; outbox rows {dict(sorted(f['mails'].items()))}"
        )
        out(
            f"jobs           {dict(sorted(f['jobs'].items()))}"
            + (f"; not done: {f['job errors'][:3]}" if f["job errors"] else "")
        )
        out(moodle_line)
        out(f"stuck          {stuck} after the drain")
        drain_text = f"{drained:.1f} s" if drained is not None else f"not drained in {opts.drain_timeout:.0f} s"
        out(f"drain          {drain_text} after the database's return (cut began {t_return - t_cut:.0f} s before it)")
        peaks = []
        for role, by_pid in hub.peak.items():
            if by_pid:
                peaks.append(f"{role} {mib(max(by_pid.values()))} (max of {len(by_pid)} processes)")
        out("peak RSS       " + "; ".join(peaks))
        targets = {
            "0 lost (every acknowledged event stored)": f["lost"] == 0,
            "0 duplicated (assertions per source key, e-mails per award)": f["duplicated"] == 0
            and f["mail twice"] == 0,
            "0 stuck (events, e-mails, jobs after the drain)": not any(stuck.values())
            and not f["job errors"]
            and f["mail missing"] == 0,
            "every acknowledged event awarded": f["not awarded"] == 0 and f["acked"] == opts.events,
            f"drained within {DRAIN_TARGET:.0f} s of the database's return": drained is not None
            and drained <= DRAIN_TARGET,
            f"at least {opts.kills} worker kills and 1 master kill": hub.kills >= opts.kills and hub.master_kills == 1,
            "the Moodle sync awarded every completed learner once": moodle_ok,
        }
        for name, ok in targets.items():
            out(f"  {'PASS' if ok else 'FAIL'}  {name}")
        return all(targets.values()), lines
    finally:
        if hub is not None:
            hub.stop()
        if moodle is not None:
            moodle.stop()
        proxy.stop()
        sink.stop()
        if opts.keep:
            lines.append(f"kept {work} and {db.url}")
        else:
            db.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="signed events to send (default 10000)")
    parser.add_argument("--mode", choices=("worker", "thread", "both"), default="both")
    parser.add_argument("--db", default=common.PG_ADMIN_URL, help="PostgreSQL server (a database on it to connect to)")
    parser.add_argument("--senders", type=int, default=8, help="sender threads (default 8)")
    parser.add_argument("--kills", type=int, default=20, help="kill -9 of workers, at least (default 20)")
    parser.add_argument("--tail", type=int, default=300, help="events sent around the database cut (default 300)")
    parser.add_argument("--settle-timeout", type=float, default=600.0, help="max wait for the backlog before the cut")
    parser.add_argument("--drain-timeout", type=float, default=180.0, help="max wait after the database returns")
    parser.add_argument("--keep", action="store_true", help="keep the database and the logs")
    opts = parser.parse_args(argv)
    common.PG_ADMIN_URL = opts.db  # fresh_database and drop read it

    modes = ["worker", "thread"] if opts.mode == "both" else [opts.mode]
    work = Path(tempfile.mkdtemp(prefix="hub-bench-faults-"))
    results = {}
    try:
        for mode in modes:
            ok, lines = run_mode(mode, opts, work / mode)
            print("\n".join(lines), flush=True)
            results[mode] = ok
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n" + ", ".join(f"{m} mode: {'ALL TARGETS MET' if ok else 'TARGETS MISSED'}" for m, ok in results.items()))
    return 0 if results and all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
