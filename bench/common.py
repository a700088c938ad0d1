"""Shared pieces of the benchmarks: fresh databases, the award setup, signed events, and memory figures.

Everything here goes through the hub's real services (no fixtures, no stand-ins): the setup is the
same issuer + badge class + webhook connector + rule a real deployment makes, the events are the
Moodle-shaped course completions of :mod:`hub.demo`, signed as a Standard Webhooks sender signs them.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from standardwebhooks.webhooks import Webhook

from hub.db import normalise_url
from hub.migrations import upgrade

REPO = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
# Fixed so every run (and every process of a run) shares them; a bench instance holds no real secret.
KEK = "m1GMNk8ZbX3Jb3TclQ0Gm3r8vS6e4u6vF1yq2c3dT0Q="
SECRET_KEY = "bench-secret-key-bench-secret-key-bench"
WEBHOOK_SECRET = "whsec_YmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtYmVuY2gtMzI="
SLUG = "bench-lms"
COURSE = "ZGJ-101"


# ---- databases ---------------------------------------------------------------------------------


@dataclass
class BenchDatabase:
    """A fresh, migrated database for one run; :meth:`drop` removes it (PostgreSQL) or leaves the file."""

    url: str
    kind: str  # "sqlite" | "postgresql"
    _pg_name: str | None = None

    def drop(self) -> None:
        if self._pg_name is None:
            return
        admin = create_engine(normalise_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{self._pg_name}" WITH (FORCE)'))
        admin.dispose()


def fresh_database(kind: str, workdir: Path) -> BenchDatabase:
    """Create and migrate (``hub.migrations.upgrade``) a new database of ``kind`` for this run.

    SQLite: a file in ``workdir``. PostgreSQL: a new database ``badgehub_bench_<pid>_<rand>`` on the
    server of ``BENCH_PG_URL`` (default the local one, user postgres).
    """
    if kind == "sqlite":
        workdir.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{workdir / 'bench.db'}"
        upgrade(url)
        return BenchDatabase(url, kind)
    name = f"badgehub_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin_url = make_url(normalise_url(PG_ADMIN_URL))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    return BenchDatabase(url, kind, name)


def hub_env(database_url: str, instance: Path, job_mode: str = "worker", extra: dict | None = None) -> dict[str, str]:
    """The ``HUB_*`` environment of a bench hub process (also read by :func:`hub.settings.load_settings`),
    plus ``extra`` variables."""
    return {
        **(extra or {}),
        "HUB_DATABASE_URL": database_url,
        "HUB_INSTANCE_PATH": str(instance),
        "HUB_KEY_ENCRYPTION_KEY": KEK,
        "HUB_SECRET_KEY": SECRET_KEY,
        "HUB_JOB_MODE": job_mode,
        "HUB_BASE_URL": "https://badges.bench.example",
        "HUB_LOG_LEVEL": "WARNING",  # one INFO line per event would measure the log handler
    }


def hub_context(database_url: str, instance: Path, job_mode: str = "worker", env: dict | None = None, **engine_kwargs):
    """A :class:`hub.context.HubContext` built the way ``badgehub worker`` builds it (``env``: extra
    ``HUB_*`` variables)."""
    import hub.models  # noqa: F401  (every table, so a flush in a spawned worker resolves every foreign key)
    from hub.context import HubContext
    from hub.db import Database
    from hub.settings import load_settings

    settings = load_settings(hub_env(database_url, instance, job_mode, env))
    return HubContext.from_settings(settings, Database(settings.database_url, **engine_kwargs))


def setup_award_pipeline(ctx) -> None:
    """Issuer (with its RSA-2048 key) + PNG badge class + webhook connector + rule, via the services."""
    from hub.badges import services as badges
    from hub.connections.services import create_connector
    from hub.demo import MOODLE_MAPPING, badge_png
    from hub.rules.services import create_rule

    with ctx.db.session_scope() as s:
        issuer = badges.create_issuer(
            s, ctx, name="Fundacja Odznaka+ (bench)", url="https://example.org", email="badges@example.org"
        )
        badge = badges.create_badge_class(
            s,
            ctx,
            issuer,
            name="Zażółć gęślą jaźń — kurs ukończony",
            description="Ukończenie kursu ZGJ-101",
            image=badge_png(),
            expires_after_days=730,
        )
        connector = create_connector(
            s,
            ctx,
            slug=SLUG,
            kind="webhooks",
            name="LMS (bench)",
            config={"mapping": MOODLE_MAPPING},
            secret=WEBHOOK_SECRET,
        )
        create_rule(s, connector, badge, event_type="course_completed", key=COURSE)


# ---- events ------------------------------------------------------------------------------------


def completion_body(n: int, run: str) -> str:
    """The JSON body of the ``n``-th distinct course completion (a distinct learner per ``n``), shaped as
    the hub's Moodle plugin sends it (:func:`hub.demo.completion_payload`)."""
    from hub.demo import completion_payload

    payload = completion_payload(
        f"https://moodle.example.edu/{run}",
        email=f"uczeń.{n}@szkoła.example.pl",
        name=f"Zażółć Gęślą {n}",
        course_id=42,
        user_id=n,
        idnumber=COURSE,
        completed_at=datetime.fromtimestamp(1764410000 + n, UTC),
    )
    return json.dumps(payload, ensure_ascii=False)


def signed_request(body: str, msg_id: str, when: datetime | None = None) -> dict[str, str]:
    """Standard Webhooks headers for ``body``, computed as a sender computes them."""
    when = when or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(WEBHOOK_SECRET).sign(msg_id, when, body),
    }


# ---- servers ------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """A gunicorn master serving ``app`` on ``port`` (default a free local port); :meth:`workers` are
    its children. ``args`` must include ``--workers N``: start-up waits until N workers run. The log
    is appended to, so a master started again (:meth:`restart`) after :meth:`kill` keeps one log."""

    def __init__(self, app: str, env: dict[str, str], args: list[str], log: Path, port: int | None = None):
        self.app, self.env, self.args = app, env, args
        self.port = port or free_port()
        self._log = log.open("a")
        self.proc = self._spawn()
        self._wait_ready(expected_workers=int(args[args.index("--workers") + 1]))

    def _spawn(self) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "gunicorn", self.app, "--bind", f"127.0.0.1:{self.port}", "--chdir", str(REPO)]
        env = {**os.environ, **self.env}
        return subprocess.Popen(cmd + self.args, env=env, stdout=self._log, stderr=self._log)

    def _wait_ready(self, expected_workers: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self._log.name}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    if len(self.workers()) >= expected_workers:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start in {timeout} s; see {self._log.name}")

    def workers(self) -> list[int]:
        """The pids of the master's worker processes."""
        return children(self.proc.pid)

    def kill(self) -> list[int]:
        """``kill -9`` the master (its workers notice and exit by themselves); returns the workers'
        pids of that moment, for :func:`wait_gone`."""
        orphans = self.workers()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        return orphans

    def restart(self) -> None:
        """Start a new master on the same port (after :meth:`kill`) and wait until it serves."""
        self.proc = self._spawn()
        self._wait_ready(expected_workers=int(self.args[self.args.index("--workers") + 1]))

    def stop(self) -> None:
        """SIGTERM the master and wait for it."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        self._log.close()


def wait_gone(pids: list[int], timeout: float = 15.0) -> list[int]:
    """Wait until the processes ``pids`` (not necessarily children of this one) have exited; after
    ``timeout`` seconds send the survivors SIGKILL. Returns the pids that had to be killed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if Path(f"/proc/{p}").exists() and _state(p) != "Z"]
        if not alive:
            return []
        time.sleep(0.05)
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return alive


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return None


# ---- process memory ----------------------------------------------------------------------------


def proc_status_kib(pid: int, field: str) -> int | None:
    """A ``kB`` field of ``/proc/<pid>/status`` (``VmHWM`` = peak RSS, ``VmRSS`` = current), or None."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def children(pid: int) -> list[int]:
    """Direct child pids of ``pid`` (from ``/proc/<pid>/task/*/children``)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return sorted(set(found))


def mib(kib: int | None) -> str:
    return "n/a" if kib is None else f"{kib / 1024:.1f} MiB"


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds`` (wall clock, ``perf_counter``)."""

    def __enter__(self):
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._t0
