"""Run both benchmarks, one after the other: ``python bench/run_all.py``.

Exit status 0 when both meet their targets (see bench/README.md), 1 otherwise; every figure is printed.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as ``python bench/run_all.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import awarding, intake


def main() -> int:
    results = [intake.main([]), awarding.main([])]
    return 0 if not any(results) else 1


if __name__ == "__main__":
    sys.exit(main())
