"""Alembic environment: the hub's metadata plus every installed connector's models."""

from __future__ import annotations

from alembic import context

import hub.models  # noqa: F401  (registers the hub's tables)
from hub.connections import registry
from hub.db import Base, make_engine

registry.available()  # importing connectors registers their tables on the same metadata

config = context.config
url = config.attributes["database_url"]


def run() -> None:
    engine = make_engine(url, statement_timeout_ms=0)  # a migration may rewrite a large table
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
