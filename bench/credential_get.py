"""Credential GET benchmark: the stored OB 3.0 credential vs the OB 2.0 assertion, on a running hub.

    python bench/credential_get.py [--awards 50] [--requests 400] [--databases postgresql,sqlite]

For each database: a fresh, migrated database and the award setup of :mod:`bench.common` (issuer,
PNG badge class, webhook connector, rule); ``--awards`` distinct course completions are stored and
processed by the real batch path (``hub.inbox.services.claim`` + ``process_claimed``), which signs and
stores each award's OB 3.0 credentials (:func:`hub.credentials.ob3.store_credentials`). Then
``gunicorn 'hub.wsgi:app'`` (one worker, one thread: one request at a time, so the figure is the
request's own latency) serves, over one keep-alive connection from this process:

- ``GET /credentials/<id>`` with ``Accept: application/vc+ld+json`` (OB 3.0, Data Integrity JSON),
- ``GET /assertions/<id>`` with ``Accept: application/ld+json`` (OB 2.0 hosted assertion, the baseline),

interleaved one by one (OB 3.0, OB 2.0, OB 3.0, ...) over the awards, after a warm-up of 50 each, so
other load on the machine hits both alike. Checks: every answer 200; two GETs of the same OB 3.0
credential (JSON and ``/jwt``) byte-identical. Reported: median / p90 / p99 ms of each, the ratio of
the medians, the worker's peak RSS (VmHWM), the load average. Target: OB 3.0 median <= OB 2.0 median.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/credential_get.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bench.awarding import store_events
from bench.common import Gunicorn, fresh_database, hub_context, hub_env, mib, proc_status_kib, setup_award_pipeline

WARMUP = 50


def make_awards(ctx, count: int) -> list[str]:
    """Store and process ``count`` events through the inbox batch path; the awards' public ids."""
    from hub.badges.models import Assertion
    from hub.inbox.models import InboundEvent
    from hub.inbox.services import claim, process_claimed

    store_events(ctx, count, uuid.uuid4().hex[:8])
    with ctx.db.read_scope() as s:
        ids = list(s.scalars(select(InboundEvent.id).order_by(InboundEvent.id)))
    for start in range(0, len(ids), 50):
        process_claimed(ctx, claim(ctx, ids[start : start + 50]))
    with ctx.db.read_scope() as s:
        return list(s.scalars(select(Assertion.public_id).order_by(Assertion.id)))


def timed_get(conn: http.client.HTTPConnection, path: str, accept: str) -> tuple[float, bytes]:
    """One GET on the keep-alive connection: (milliseconds, body). Raises on a status other than 200."""
    t0 = time.perf_counter()
    conn.request("GET", path, headers={"Accept": accept})
    response = conn.getresponse()
    body = response.read()
    ms = (time.perf_counter() - t0) * 1000
    if response.status != 200:
        raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
    return ms, body


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_database(kind: str, opts, work: Path) -> bool:
    db = fresh_database(kind, work / kind)
    instance = work / kind / "instance"
    instance.mkdir(parents=True, exist_ok=True)
    ctx = hub_context(db.url, instance)
    server = None
    try:
        setup_award_pipeline(ctx)
        awards = make_awards(ctx, opts.awards)
        ctx.db.dispose()
        args = ["--workers", "1", "--worker-class", "gthread", "--threads", "1"]
        server = Gunicorn("hub.wsgi:app", hub_env(db.url, instance), args, work / f"gunicorn-{kind}.log")
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        ob3_paths = [f"/credentials/{a}" for a in awards]
        ob2_paths = [f"/assertions/{a}" for a in awards]
        ob3_ms: list[float] = []
        ob2_ms: list[float] = []
        for i in range(WARMUP + opts.requests):
            t3, _ = timed_get(conn, ob3_paths[i % len(awards)], "application/vc+ld+json")
            t2, _ = timed_get(conn, ob2_paths[i % len(awards)], "application/ld+json")
            if i >= WARMUP:
                ob3_ms.append(t3)
                ob2_ms.append(t2)
        same_json = (
            timed_get(conn, ob3_paths[0], "application/vc+ld+json")[1]
            == timed_get(conn, ob3_paths[0], "application/vc+ld+json")[1]
        )
        same_jwt = (
            timed_get(conn, ob3_paths[0] + "/jwt", "text/plain")[1]
            == timed_get(conn, ob3_paths[0] + "/jwt", "text/plain")[1]
        )
        conn.close()
        hwm = {pid: proc_status_kib(pid, "VmHWM") for pid in server.workers()}
    finally:
        if server is not None:
            server.stop()
        db.drop()
    m3, m2 = statistics.median(ob3_ms), statistics.median(ob2_ms)
    print(f"\n{kind}: {len(awards)} awards, {opts.requests} GETs of each, interleaved, 1 gunicorn worker x 1 thread")
    print(f"{'GET':28} {'median ms':>10} {'p90 ms':>8} {'p99 ms':>8}")
    for label, ms in (("OB 3.0 /credentials/<id>", ob3_ms), ("OB 2.0 /assertions/<id>", ob2_ms)):
        print(f"{label:28} {statistics.median(ms):10.2f} {pct(ms, 0.9):8.2f} {pct(ms, 0.99):8.2f}")
    print(f"ratio OB 3.0 / OB 2.0 (medians): {m3 / m2:.2f}   (target <= 1.00)")
    print(f"two GETs byte-identical: JSON {same_json}, VC-JWT {same_jwt}")
    print("worker peak RSS: " + ", ".join(mib(v) for v in hwm.values()))
    print(f"load average ({os.cpu_count()} CPUs, shared): {os.getloadavg()}")
    return m3 <= m2 and same_json and same_jwt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--awards", type=int, default=50)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--databases", default="postgresql,sqlite")
    opts = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-credential-get-"))
    try:
        ok = [run_database(kind, opts, work) for kind in opts.databases.split(",")]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\nPASS" if all(ok) else "\nFAIL: OB 3.0 GET slower than the OB 2.0 GET (or bytes differ)")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
