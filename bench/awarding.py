"""Awarding benchmark: stored events -> signed, baked OB 2.0 assertions, on SQLite and PostgreSQL.

    python bench/awarding.py [--events 13000] [--workers 2] [--databases sqlite,postgresql]

13,000 is about the number of badges Odznaka+ issued in its whole pilot. For each database: a fresh,
migrated database and the award setup (issuer with an RSA-2048 key, PNG badge class, webhook
connector, rule) are made through the services; ``--events`` distinct course completions are stored
with ``hub.inbox.services.record_event``; then ``--workers`` processes run the real worker loop
(``hub.jobs.runner.Runner.drain``) until the inbox is empty and bake every resulting assertion
(``hub.credentials.ob2.baked_assertion(urls, assertion, "png", signed=True)``). Reported: events per
second, seconds per phase and in total, workers' peak RSS (VmHWM), and the floor measured in the same
run: the bare cost of the same number of RSA-2048 signatures of the same JWS signing input, in as
many processes. A separate, smaller pass under cProfile (one process) says where the time goes.
Target: the whole of processing + baking under 60 s.
"""

from __future__ import annotations

import argparse
import cProfile
import multiprocessing as mp
import os
import pstats
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/awarding.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bench.common import (
    SLUG,
    Stopwatch,
    completion_body,
    fresh_database,
    hub_context,
    mib,
    proc_status_kib,
    setup_award_pipeline,
)

TARGET_SECONDS = 60.0
PROFILE_GROUPS = ("RSA signing", "JSON/serialisation", "DB", "rules/mapping", "baking", "other")


def store_events(ctx, count: int, run: str, chunk: int = 500) -> None:
    """Store ``count`` distinct events in the inbox, ``chunk`` per transaction, as intake would."""
    from hub.connections.services import get_connector
    from hub.inbox.services import record_event

    for start in range(0, count, chunk):
        with ctx.db.session_scope() as s:
            connector = get_connector(s, SLUG)
            for n in range(start, min(start + chunk, count)):
                record_event(s, connector, f"msg_{run}_{n}", completion_body(n, run))


def bake_share(ctx, index: int, workers: int, chunk: int = 500) -> int:
    """Bake (PNG, signed) every assertion whose id is ``index`` modulo ``workers``; returns how many."""
    from hub.badges.models import Assertion, BadgeClass
    from hub.credentials.ob2 import baked_assertion

    baked, last = 0, 0
    while True:
        with ctx.db.read_scope() as s:
            rows = s.scalars(
                select(Assertion)
                .where(Assertion.id > last, Assertion.id % workers == index)
                .options(selectinload(Assertion.badge_class).selectinload(BadgeClass.issuer))
                .order_by(Assertion.id)
                .limit(chunk)
            ).all()
            for a in rows:
                png = baked_assertion(ctx.urls, a, "png", signed=True)
                if a.signature.encode() not in png:
                    raise AssertionError(f"assertion {a.public_id}: the JWS is not in the baked PNG")
            baked += len(rows)
        if len(rows) < chunk:
            return baked
        last = rows[-1].id


def worker_main(index: int, workers: int, db_url: str, instance: str, barrier, results, env=None) -> None:
    """One worker process: wait for the start, drain the inbox with the job runner, wait, bake its share.
    ``env``: extra ``HUB_*`` variables."""
    from hub.jobs.runner import Runner

    ctx = hub_context(db_url, Path(instance), env=env)
    barrier.wait()  # all processes imported and connected: start the clock
    cpu0 = time.process_time()
    processed = Runner(ctx).drain()
    barrier.wait()  # the inbox is empty everywhere
    baked = bake_share(ctx, index, workers)
    cpu = time.process_time() - cpu0
    barrier.wait()
    results.put((index, processed, baked, proc_status_kib(os.getpid(), "VmHWM"), cpu))
    ctx.db.dispose()


def run_database(kind: str, opts, work: Path, *, prepare=None, env=None, name: str | None = None) -> dict:
    """Store, process and bake ``opts.events`` events on a fresh database of ``kind``. ``prepare(ctx)``
    runs after the award setup (``bench/paths.py``: a path and webhook subscriptions) and what it
    returns is in the result's ``extra``, as is ``finish(ctx)`` of that value (counts read after the run);
    ``env``: extra ``HUB_*`` variables of every process; ``name``: the work directory's."""
    from hub.badges.models import Assertion
    from hub.inbox.models import PROCESSED, InboundEvent

    db = fresh_database(kind, work / (name or kind))
    instance = work / (name or kind) / "instance"
    try:
        ctx = hub_context(db.url, instance, env=env)
        setup_award_pipeline(ctx)
        extra = prepare(ctx) if prepare is not None else None
        with Stopwatch() as store:
            store_events(ctx, opts.events, uuid.uuid4().hex[:8])

        spawn = mp.get_context("spawn")
        barrier, results = spawn.Barrier(opts.workers + 1), spawn.Queue()
        procs = [
            spawn.Process(target=worker_main, args=(i, opts.workers, db.url, str(instance), barrier, results, env))
            for i in range(opts.workers)
        ]
        for p in procs:
            p.start()
        barrier.wait()
        t0 = time.perf_counter()
        barrier.wait()
        t1 = time.perf_counter()
        barrier.wait()
        t2 = time.perf_counter()
        done = sorted(results.get(timeout=60) for _ in procs)
        for p in procs:
            p.join(timeout=60)

        with ctx.db.session_scope() as s:
            assertions = s.scalar(select(func.count()).select_from(Assertion))
            processed = s.scalar(select(func.count()).where(InboundEvent.status == PROCESSED))
            signing_input = s.scalar(select(Assertion.signature).limit(1)).rsplit(".", 1)[0]
        finished = extra.finish(ctx) if extra is not None and hasattr(extra, "finish") else None
        ctx.db.dispose()
        return {
            "kind": kind,
            "store_s": store.seconds,
            "process_s": t1 - t0,
            "bake_s": t2 - t1,
            "total_s": t2 - t0,
            "per_worker": [(i, n, b) for i, n, b, _, _ in done],
            "hwm_kib": [h for _, _, _, h, _ in done],
            "cpu_s": sum(c for *_, c in done),
            "assertions": assertions,
            "processed": processed,
            "baked": sum(b for _, _, b, _, _ in done),
            "signing_input": signing_input,
            "extra": finished,
        }
    finally:
        db.drop()


# ---- floor: bare RSA-2048 signatures -----------------------------------------------------------


def _sign_many(count: int, data: bytes, barrier, out) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    barrier.wait()
    for _ in range(count):
        key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    barrier.wait()
    out.put(proc_status_kib(os.getpid(), "VmHWM"))


def signing_floor(count: int, workers: int, data: bytes) -> float:
    """Seconds for ``count`` RS256 signatures of ``data`` split over ``workers`` processes."""
    spawn = mp.get_context("spawn")
    barrier, out = spawn.Barrier(workers + 1), spawn.Queue()
    shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
    procs = [spawn.Process(target=_sign_many, args=(n, data, barrier, out)) for n in shares]
    for p in procs:
        p.start()
    barrier.wait()
    t0 = time.perf_counter()
    barrier.wait()
    seconds = time.perf_counter() - t0
    for _ in procs:
        out.get(timeout=60)
    for p in procs:
        p.join(timeout=60)
    return seconds


# ---- where the time goes -----------------------------------------------------------------------


def _group(filename: str, name: str) -> str:
    path = filename.replace("\\", "/")
    if "joserfc" in path or "cryptography" in path or "RSAPrivateKey" in name or "signing.py" in path:
        return "RSA signing"
    if "sqlalchemy" in path or "psycopg" in path or "sqlite3" in path or "sqlite3" in name or "hub/db.py" in path:
        return "DB"
    if "baking.py" in path or "zlib" in name or "struct" in name:
        return "baking"
    if "jmespath" in path or "hub/rules" in path or "connectors/" in path:
        return "rules/mapping"
    if "/json/" in path or "_json" in name or "ob2.py" in path or "timefmt" in path or "base64" in path:
        return "JSON/serialisation"
    return "other"


def profile_pass(kind: str, events: int, work: Path) -> Counter:
    """Store ``events`` events, then process and bake them in this process under cProfile; returns
    seconds of own time (cProfile ``tottime``) per group of :data:`PROFILE_GROUPS`."""
    from hub.jobs.runner import Runner

    db = fresh_database(kind, work / f"profile-{kind}")
    try:
        ctx = hub_context(db.url, work / f"profile-{kind}" / "instance")
        setup_award_pipeline(ctx)
        store_events(ctx, events, uuid.uuid4().hex[:8])
        prof = cProfile.Profile()
        prof.enable()
        Runner(ctx).drain()
        bake_share(ctx, 0, 1)
        prof.disable()
        ctx.db.dispose()
    finally:
        db.drop()
    groups: Counter = Counter()
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in pstats.Stats(prof).stats.items():
        groups[_group(filename, name)] += tottime
    return groups


# ---- report ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=13_000, help="distinct events to award (default 13000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    parser.add_argument("--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql")
    parser.add_argument("--profile-events", type=int, default=1000, help="events in the cProfile pass (0: skip)")
    opts = parser.parse_args(argv)
    kinds = [k.strip() for k in opts.databases.split(",") if k.strip()]

    work = Path(tempfile.mkdtemp(prefix="hub-bench-awarding-"))
    try:
        runs = [run_database(kind, opts, work) for kind in kinds]
        floor = signing_floor(opts.events, opts.workers, runs[0]["signing_input"].encode("ascii"))
        profiles = (
            {kind: profile_pass(kind, opts.profile_events, work) for kind in kinds} if opts.profile_events else {}
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n, w = opts.events, opts.workers
    print(f"\nAwarding benchmark: {n} events, {w} worker processes, {os.cpu_count()} CPUs")
    print(
        f"floor: {n} bare RSA-2048 signatures of the same JWS input in {w} processes: {floor:.2f} s ({n / floor:.0f}/s)"
    )
    # CPU ms/ev: the workers' own CPU time per event (processing + baking), steadier than wall time when
    # other processes share the CPUs.
    print(f"load average at the end: {os.getloadavg()}")
    head = ("database", "store s", "process s", "bake s", "total s", "events/s", "x floor", "CPU ms/ev", "peak RSS")
    print("{:<11} {:>8} {:>10} {:>7} {:>8} {:>9} {:>8} {:>9}  {}".format(*head))
    ok = True
    for r in runs:
        print(
            f"{r['kind']:<11} {r['store_s']:>8.1f} {r['process_s']:>10.1f} {r['bake_s']:>7.1f} {r['total_s']:>8.1f} "
            f"{n / r['total_s']:>9.0f} {r['total_s'] / floor:>8.1f} {1000 * r['cpu_s'] / n:>9.2f}  "
            f"{', '.join(mib(h) for h in r['hwm_kib'])}"
        )
        complete = r["assertions"] == r["processed"] == r["baked"] == n
        split = ", ".join(f"worker {i}: {p} processed, {b} baked" for i, p, b in r["per_worker"])
        print(
            f"{'':<11} {r['assertions']} assertions, {r['processed']} events processed ({split})"
            f"{'' if complete else ' -> INCOMPLETE'}"
        )
        ok = ok and complete and r["total_s"] < TARGET_SECONDS
    for kind, groups in profiles.items():
        total = sum(groups.values())
        parts = ", ".join(f"{g} {100 * groups[g] / total:.0f}%" for g in PROFILE_GROUPS)
        print(f"where the time goes ({kind}, cProfile, 1 process, {opts.profile_events} events): {parts}")
    print(f"target (processing + baking under {TARGET_SECONDS:.0f} s on every database): {'MET' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
