"""ESCO CSV import throughput: 100,000 generated skills rows into a real database, against the baseline
of merely parsing the same file with :mod:`csv` (measured in the same run).

    .venv/bin/python bench/frameworks_import.py [--rows 100000] [--database-url postgresql://...]

Default database: a fresh SQLite file (real file, WAL) upgraded by the migrations; with
``--database-url`` (e.g. ``postgresql://postgres@127.0.0.1:5432/badgehub_bench``) a fresh PostgreSQL
database of that name is created and dropped. Prints, for the first import and for a re-import of the
same file (the idempotent update path), seconds, rows/s, the ratio to the plain ``csv`` parse, and
peak RSS (``ru_maxrss``) before and after. Target: 100,000 rows in under a minute.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from hub.db import Database, normalise_url  # noqa: E402
from hub.frameworks import importers  # noqa: E402
from hub.frameworks.models import Descriptor  # noqa: E402
from hub.migrations import upgrade  # noqa: E402

HEADER = [
    "conceptType", "conceptUri", "skillType", "reuseLevel", "preferredLabel", "altLabels", "hiddenLabels",
    "status", "modifiedDate", "scopeNote", "definition", "inScheme", "description",
]  # fmt: skip


def generate(path: Path, rows: int) -> None:
    """An ESCO-shaped skills_en.csv: multi-line alt labels and descriptions, quotes, non-ASCII."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(rows):
            w.writerow(
                [
                    "KnowledgeSkillCompetence",
                    f"http://data.europa.eu/esco/skill/{uuid.UUID(int=i)}",
                    "skill/competence" if i % 3 else "knowledge",
                    "sector-specific",
                    f"skill number {i} – zażółć gęślą jaźń",
                    f'alt label {i}\nanother "quoted" label {i}',
                    "",
                    "released",
                    "2024-01-01T00:00:00Z",
                    "",
                    "",
                    "http://data.europa.eu/esco/concept-scheme/skills",
                    f"Description of skill {i}, with a comma.\nSecond line of the description, ąćęłńóśźż. " * 2,
                ]
            )


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def baseline(path: Path) -> tuple[float, int]:
    """Seconds to parse the file with csv.DictReader (no validation, no database)."""
    t0 = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as fh:
        n = sum(1 for _ in csv.DictReader(fh))
    return time.perf_counter() - t0, n


def timed_import(db: Database, path: Path) -> float:
    t0 = time.perf_counter()
    with db.session_scope() as s, path.open("rb") as fh:
        importers.import_esco(s, fh, kind="skills", language="en")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--database-url", default=None)
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="fw-bench-"))
    csv_path = tmp / "skills_en.csv"
    generate(csv_path, args.rows)
    size_mib = os.path.getsize(csv_path) / 2**20

    admin, url = None, f"sqlite:///{tmp / 'hub.db'}"
    if args.database_url:
        u = make_url(normalise_url(args.database_url))
        name = f"{u.database or 'badgehub'}_{os.getpid()}"
        admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = u.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    db = Database(url)
    try:
        rss0 = peak_rss_mib()
        base_s, n = baseline(csv_path)
        first = timed_import(db, csv_path)
        again = timed_import(db, csv_path)
        with db.session_scope() as s:
            stored = s.scalar(select(func.count()).select_from(Descriptor))
        rss1 = peak_rss_mib()
    finally:
        db.dispose()
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
            admin.dispose()

    print(f"ESCO skills CSV import, {n:,} rows ({size_mib:.1f} MiB), database {db.dialect}, batch {importers.BATCH}")
    print(f"  baseline csv.DictReader parse  {base_s:7.2f} s  {n / base_s:10,.0f} rows/s")
    for label, sec in (("import (insert)", first), ("re-import (update)", again)):
        print(f"  {label:29s}  {sec:7.2f} s  {n / sec:10,.0f} rows/s  {sec / base_s:5.1f}x the parse")
    print(f"  rows stored: {stored:,} (re-import idempotent: {stored == n})")
    print(f"  peak RSS: {rss0:.0f} MiB before, {rss1:.0f} MiB after (file {size_mib:.1f} MiB)")
    print(f"  target: under 60 s per import -> {'met' if max(first, again) < 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
