"""Alembic migrations, driven from code (no alembic.ini): ``badgehub init`` calls :func:`upgrade`.

To add a revision after changing models:
``python -m hub.migrations revision -m "what changed"`` (autogenerates against a scratch SQLite).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from hub.db import normalise_url

HERE = Path(__file__).parent


def alembic_config(url: str) -> Config:
    """An Alembic Config for the database at ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.attributes["database_url"] = normalise_url(url)
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Create or upgrade the schema at ``url`` to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)
