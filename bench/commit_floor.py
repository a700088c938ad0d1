"""Floor of durable intake on this machine: single-row autocommitted INSERTs per second into PostgreSQL
from N threads, nothing else (no HTTP, no Flask, no signature). Each INSERT waits for its WAL flush, as
the hub's intake does before answering 202.

    python bench/commit_floor.py [--threads 8] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import psycopg

URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with psycopg.connect(URL, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS bench_commit_floor")
        c.execute("CREATE TABLE bench_commit_floor (id bigserial PRIMARY KEY, body text)")
        sync = c.execute("SHOW synchronous_commit").fetchone()[0]
    counts = [0] * args.threads
    stop = time.monotonic() + args.seconds

    def run(i: int) -> None:
        with psycopg.connect(URL, autocommit=True) as c:
            while time.monotonic() < stop:
                c.execute("INSERT INTO bench_commit_floor (body) VALUES (%s) RETURNING id", ("x" * 600,))
                counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(args.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(URL, autocommit=True) as c:
        c.execute("DROP TABLE bench_commit_floor")
    total = sum(counts)
    print(f"synchronous_commit={sync}; {args.threads} threads: {total / args.seconds:.0f} committed INSERTs/s")


if __name__ == "__main__":
    main()
