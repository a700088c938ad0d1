"""Webhook intake benchmark: signed events accepted per second, p50/p99 latency, workers' peak RSS.

    python bench/intake.py [--duration 10] [--connections 16] [--workers 2] [--threads 4]

The hub (``gunicorn 'hub.wsgi:app'``, ``HUB_JOB_MODE=worker`` so only intake is measured, a fresh
PostgreSQL database) and a bare Flask endpoint that answers 202 without verifying or storing
(``bench/bare_app.py``) are served by the same gunicorn configuration in the same run, and loaded by
``wrk`` (Debian package ``wrk``) from a second process. Every request is a distinct, validly signed
Standard Webhooks event, signed beforehand into a file that ``bench/intake.lua`` cycles through.
Each server gets a warm-up and two measured rounds; afterwards the number of stored InboundEvent rows
must equal the number of 202 answers. Target: hub rate >= 0.5 x bare rate, p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/intake.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

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
)

HERE = Path(__file__).resolve().parent
TARGET_RATIO = 0.5
TARGET_P99_MS = 50.0
RSS_FLAT_KIB = 2048  # growth per worker from round 1 to round 2 that still counts as flat


@dataclass
class Round:
    name: str
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    n202: int
    n200: int
    nother: int
    errors: int
    wrapped: bool
    sent: int
    cpu_ms_per_request: float
    rss_kib: dict[int, int | None] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class ServerRun:
    label: str
    rounds: list[Round]
    hwm_kib: dict[int, int | None]

    @property
    def measured(self) -> list[Round]:
        return [r for r in self.rounds if r.name not in ("warm-up", "profile")]

    @property
    def rate(self) -> float:
        return sum(r.requests for r in self.measured) / sum(r.seconds for r in self.measured)

    def worst(self, attr: str) -> float:
        return max(getattr(r, attr) for r in self.measured)


def write_requests(path: Path, count: int, run: str) -> None:
    """``count`` distinct events, signed now (so within the 5-minute tolerance), one per line for wrk."""
    with path.open("w", encoding="utf-8") as fh:
        for n in range(count):
            msg_id = f"msg_{run}_{n}"
            body = completion_body(n, run)
            h = signed_request(body, msg_id)
            fh.write(f"{msg_id}\t{h['webhook-timestamp']}\t{h['webhook-signature']}\t{body}\n")


def run_wrk(url: str, script_args: list[str], *, duration: int, connections: int, threads: int) -> dict:
    cmd = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "intake.lua"),
        url,
        "--",
        *script_args,
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("BENCH "))
    return json.loads(line[len("BENCH ") :])


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time consumed so far by ``pids`` (``/proc/<pid>/stat`` fields 14 and 15)."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def load_round(server: Gunicorn, label: str, name: str, duration: int, work: Path, opts) -> Round:
    """One wrk run against ``server`` with its own freshly signed events."""
    run = f"{label}{name.replace(' ', '')}{uuid.uuid4().hex[:6]}"
    file = work / f"requests-{run}.tsv"
    write_requests(file, opts.requests, run)
    workers = server.workers()
    cpu0 = cpu_seconds(workers)
    r = run_wrk(
        f"http://127.0.0.1:{server.port}/hooks/{SLUG}",
        [str(file), str(opts.wrk_threads)],
        duration=duration,
        connections=opts.connections,
        threads=opts.wrk_threads,
    )
    cpu = cpu_seconds(workers) - cpu0
    file.unlink()
    return Round(
        name=name,
        requests=r["requests"],
        seconds=r["duration_us"] / 1e6,
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        n202=r["n202"],
        n200=r["n200"],
        nother=r["nother"],
        errors=r["errors"],
        wrapped=bool(r["wrapped"]),
        sent=r["sent"],
        cpu_ms_per_request=1000 * cpu / max(r["sent"], 1),
        rss_kib={pid: proc_status_kib(pid, "VmRSS") for pid in workers},
    )


def load_interleaved(servers: dict[str, Gunicorn], work: Path, opts) -> dict[str, ServerRun]:
    """Warm-up, then two measured rounds, alternating between the servers (bare, hub, bare, hub, ...),
    so a change in the machine's other load during the run hits both alike."""
    rounds: dict[str, list[Round]] = {label: [] for label in servers}
    for name, duration in (("warm-up", 2), ("round 1", opts.duration), ("round 2", opts.duration)):
        for label, server in servers.items():
            rounds[label].append(load_round(server, label, name, duration, work, opts))
    return {
        label: ServerRun(label, rounds[label], {pid: proc_status_kib(pid, "VmHWM") for pid in server.workers()})
        for label, server in servers.items()
    }


#: Own-time groups of the py-spy profile: the first prefix (of the frame's file path) that matches.
PROFILE_GROUPS = (
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("psycopg", ("psycopg/", "psycopg_pool/")),
    ("Flask/Werkzeug", ("flask/", "werkzeug/", "flask_babel/", "jinja2/", "babel/")),
    ("Flask-Limiter", ("flask_limiter/", "limits/")),
    ("gunicorn", ("gunicorn/",)),
    ("JMESPath mapping", ("jmespath/", "connectors/webhooks/mapping.py")),
    ("HMAC (standardwebhooks)", ("standardwebhooks/", "hmac.py", "connectors/webhooks/verify.py")),
    ("hub", ("hub/", "connectors/")),
    ("json", ("json/",)),
    ("logging", ("logging/",)),
)


#: Leaf frames of threads that wait (gthread's pool and poller), left out of the profile.
IDLE_FRAMES = ("select (selectors", "_worker (concurrent/futures/thread.py", "wait (threading")


def profile_worker(server: Gunicorn, work: Path, opts) -> Round:
    """An extra hub round of ``--profile`` seconds with ``py-spy record`` (raw, collapsed stacks) on one
    worker; prints the busy samples grouped by the innermost frame of a known library (a C call or
    stdlib frame counts for the library that made it: a socket wait in psycopg is psycopg's). On a
    loaded machine py-spy falls behind and takes fewer samples (it says so on stderr)."""
    pid = server.workers()[0]
    out = work / "profile.txt"
    spy = subprocess.Popen(
        [
            shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")),
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--duration",
            str(opts.profile),
            "--rate",
            "200",
            "-o",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    profiled = load_round(server, "hub", "profile", opts.profile, work, opts)
    spy.wait(timeout=opts.profile + 60)
    groups: dict[str, int] = {}
    total = 0
    for line in out.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if any(mark in frames[-1] for mark in IDLE_FRAMES):
            continue  # a thread waiting for work or for a connection's events, not running
        total += int(count)
        name = "other (stdlib, C)"
        for frame in reversed(frames):  # the innermost frame of a known library owns the sample
            where = frame[frame.rfind("(") + 1 :]
            found = next((g for g, prefixes in PROFILE_GROUPS if any(p in where for p in prefixes)), None)
            if found:
                name = found
                break
        groups[name] = groups.get(name, 0) + int(count)
    print(f"\npy-spy, one hub worker (pid {pid}), {opts.profile} s under the same load; {total} busy samples:")
    for name, n in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<26} {100 * n / max(total, 1):5.1f} %")
    print(f"  (collapsed stacks: {out}; kept with --keep)")
    return profiled


def report(bare: ServerRun, hub: ServerRun, stored: int, opts) -> bool:
    print(
        f"\nIntake benchmark: gunicorn {' '.join(opts.gunicorn_args)} | wrk -t{opts.wrk_threads} "
        f"-c{opts.connections} -d{opts.duration}s | {os.cpu_count()} CPUs"
    )
    head = ("server", "round", "requests", "req/s", "p50 ms", "p90 ms", "p99 ms", "CPU ms/req")
    print("{:<8} {:<8} {:>9} {:>9} {:>8} {:>8} {:>8} {:>10}  answers".format(*head))
    for run in (bare, hub):
        for r in run.rounds:
            answers = f"202={r.n202} 200={r.n200} other={r.nother} socket-errors={r.errors}"
            if r.wrapped:
                answers += " (events ran out: raise --requests)"
            print(
                f"{run.label:<8} {r.name:<8} {r.requests:>9} {r.rate:>9.0f} {r.p50_ms:>8.2f} {r.p90_ms:>8.2f} "
                f"{r.p99_ms:>8.2f} {r.cpu_ms_per_request:>10.2f}  {answers}"
            )
    ratio = hub.rate / bare.rate
    p99 = hub.worst("p99_ms")
    print(f"\nbare endpoint : {bare.rate:8.0f} req/s (measured rounds)")
    print(f"hub intake    : {hub.rate:8.0f} req/s, p50 {hub.worst('p50_ms'):.2f} ms, p99 {p99:.2f} ms (worst round)")
    print(f"ratio hub/bare: {ratio:.2f}  (target >= {TARGET_RATIO})")
    cpu = {run.label: sum(r.cpu_ms_per_request for r in run.measured) / 2 for run in (bare, hub)}
    print(
        f"gunicorn workers' CPU per request: bare {cpu['bare']:.2f} ms, hub {cpu['hub']:.2f} ms "
        f"(x{cpu['hub'] / cpu['bare']:.1f}; less sensitive to other load on the machine than req/s)"
    )
    print(f"load average at the end (other processes share these {os.cpu_count()} CPUs): {os.getloadavg()}")
    for run in (bare, hub):
        peaks = ", ".join(mib(v) for v in run.hwm_kib.values())
        r1, r2 = run.measured[0].rss_kib, run.measured[1].rss_kib
        growth = [r2[p] - r1[p] for p in r1 if r1.get(p) is not None and r2.get(p) is not None]
        flat = bool(growth) and max(growth) <= RSS_FLAT_KIB
        print(
            f"{run.label:<6} workers peak RSS (VmHWM): {peaks}; RSS round 1 -> 2: "
            + ", ".join(f"{mib(r1[p])} -> {mib(r2.get(p))}" for p in r1)
            + f" ({'flat' if flat else 'GROWING'}, limit +{RSS_FLAT_KIB // 1024} MiB/worker)"
        )
    answered = sum(r.n202 for r in hub.rounds)
    dupes = sum(r.n200 + r.nother for r in hub.rounds)
    # wrk stops with requests in flight: the hub may have stored those without wrk counting the 202.
    in_flight = sum(r.sent - r.n202 - r.n200 - r.nother for r in hub.rounds)
    consistent = answered <= stored <= answered + in_flight and dupes == 0
    print(
        f"stored InboundEvent rows: {stored}; 202 answers: {answered}; other answers: {dupes}; "
        f"in flight when wrk stopped: {in_flight} -> {'consistent' if consistent else 'MISMATCH'}"
    )
    met = ratio >= TARGET_RATIO and p99 < TARGET_P99_MS
    print(f"target (ratio >= {TARGET_RATIO}, p99 < {TARGET_P99_MS:.0f} ms): {'MET' if met else 'MISSED'}")
    return met and consistent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured round (default 10)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--requests", type=int, default=60_000, help="distinct signed events per round")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker (gthread; default 4)")
    parser.add_argument("--keep", action="store_true", help="keep the database and temp dir")
    parser.add_argument("--profile", type=int, default=0, help="seconds of a py-spy round on one hub worker (0: none)")
    opts = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2
    opts.gunicorn_args = ["--workers", str(opts.workers), "--worker-class", "gthread", "--threads", str(opts.threads)]

    work = Path(tempfile.mkdtemp(prefix="hub-bench-intake-"))
    db = fresh_database("postgresql", work)
    try:
        ctx = hub_context(db.url, work / "instance")
        setup_award_pipeline(ctx)
        env = hub_env(db.url, work / "instance")

        servers = {}
        try:
            servers["bare"] = Gunicorn("bench.bare_app:app", {}, opts.gunicorn_args, work / "gunicorn-bare.log")
            servers["hub"] = Gunicorn("hub.wsgi:app", env, opts.gunicorn_args, work / "gunicorn-hub.log")
            runs = load_interleaved(servers, work, opts)
            if opts.profile:  # its answers count in the stored-rows check, not in the rates
                runs["hub"].rounds.append(profile_worker(servers["hub"], work, opts))
        finally:
            for server in servers.values():
                server.stop()
        bare, hub = runs["bare"], runs["hub"]

        from hub.inbox.models import InboundEvent

        with ctx.db.session_scope() as s:
            stored = s.scalar(select(func.count()).select_from(InboundEvent))
        ctx.db.dispose()
        ok = report(bare, hub, stored, opts)
    finally:
        if opts.keep:
            print(f"kept {work} and {db.url}")
        else:
            db.drop()
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
