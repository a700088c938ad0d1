"""``python -m hub.migrations revision -m MESSAGE``: autogenerate a revision against a scratch SQLite
database upgraded to head (so the diff is exactly the model change)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from alembic import command

from hub.migrations import alembic_config, upgrade


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m hub.migrations")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rev = sub.add_parser("revision")
    rev.add_argument("-m", "--message", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        upgrade(url)
        command.revision(alembic_config(url), message=args.message, autogenerate=True)


if __name__ == "__main__":
    main()
