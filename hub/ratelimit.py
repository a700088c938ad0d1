"""Rate-limit counts shared by every process: Redis with ``HUB_REDIS_URL``, else the hub's database.

Flask-Limiter (https://flask-limiter.readthedocs.io/) keeps its counts in a ``limits`` storage
(https://limits.readthedocs.io/en/stable/storage.html). ``limits`` has Redis, Memcached, MongoDB and
in-memory storages but none on SQL, so :class:`DatabaseStorage` adds one: a fixed-window counter per key
in the table ``rate_limit_counter``, registered under the scheme ``hubdb://``. Each ``incr`` is one
atomic ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (SQLite >= 3.35 and PostgreSQL), so concurrent
gunicorn workers count together. Only the fixed-window strategy (Flask-Limiter's default) is supported.

:func:`configure` points an app's limiters at the right storage; call it before their ``init_app``.
"""

from __future__ import annotations

import logging
import time
from itertools import count
from typing import Any

from limits.storage import Storage
from sqlalchemy import Float, Integer, String, case, delete, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base

log = logging.getLogger(__name__)

SCHEME = "hubdb"
#: Every this many increments, a process deletes the counters whose window has ended.
PURGE_EVERY = 200


class RateLimitCounter(Base):
    """One fixed window of one limit for one client: ``key`` (``limits``' key, e.g.
    ``LIMITER/127.0.0.1/admin.login/5/1/minute``), ``hits`` in it so far and ``expires_at`` (Unix
    seconds, float) when the window ends."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[float] = mapped_column(Float, index=True)


def configure(app, ctx) -> None:
    """Set ``RATELIMIT_STORAGE_URI`` (and options) of ``app`` for the hub's context ``ctx``: Redis when
    ``HUB_REDIS_URL`` is set, else :class:`DatabaseStorage` on ``ctx.db``. Limiters built without a
    ``storage_uri`` of their own take it in their ``init_app``."""
    if ctx.settings.redis_url:
        app.config.setdefault("RATELIMIT_STORAGE_URI", ctx.settings.redis_url)
    else:
        app.config.setdefault("RATELIMIT_STORAGE_URI", f"{SCHEME}://")
        app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"database": ctx.db})


class DatabaseStorage(Storage):
    """A ``limits`` storage on the hub's database (``hubdb://``; option ``database``: a
    :class:`hub.db.Database`). Counts are per key and fixed window; see the module docstring.

    Raises (wrapped by ``limits`` in ``StorageError`` when ``wrap_exceptions``):
        sqlalchemy.exc.SQLAlchemyError: the database failed.
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self.database = options["database"]
        self._calls = count(1)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def _upsert(self):
        from sqlalchemy.dialects import postgresql, sqlite

        dialect = postgresql if self.database.dialect == "postgresql" else sqlite
        return dialect.insert(RateLimitCounter.__table__)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        """Add ``amount`` to ``key``'s count in its current window (a new window of ``expiry`` seconds
        starts when the last one ended); returns the count. One atomic statement."""
        now = time.time()
        table = RateLimitCounter.__table__
        ended = table.c.expires_at <= now
        insert = self._upsert().values(key=key, hits=amount, expires_at=now + expiry)
        statement = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "hits": case((ended, amount), else_=table.c.hits + amount),
                "expires_at": case((ended, now + expiry), else_=table.c.expires_at),
            },
        ).returning(table.c.hits)
        with self.database.engine.begin() as conn:
            hits = int(conn.execute(statement).scalar_one())
            if next(self._calls) % PURGE_EVERY == 0:
                conn.execute(delete(table).where(table.c.expires_at <= now))
        return hits

    def _row(self, key: str):
        table = RateLimitCounter.__table__
        # SQLite: a read must not take the write lock (the request's own session may hold it).
        with self.database.engine.execution_options(hub_sqlite_begin="DEFERRED").connect() as conn:
            return conn.execute(
                select(table.c.hits, table.c.expires_at).where(table.c.key == key, table.c.expires_at > time.time())
            ).first()

    def get(self, key: str) -> int:
        """The count of ``key`` in its current window (0 when none runs)."""
        row = self._row(key)
        return int(row.hits) if row else 0

    def get_expiry(self, key: str) -> float:
        """When ``key``'s window ends, Unix seconds (now when none runs)."""
        row = self._row(key)
        return float(row.expires_at) if row else time.time()

    def check(self) -> bool:
        """Whether the database answers."""
        try:
            with self.database.engine.execution_options(hub_sqlite_begin="DEFERRED").connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError:
            return False

    def reset(self) -> int | None:
        """Forget every count; returns how many were dropped."""
        with self.database.engine.begin() as conn:
            return conn.execute(delete(RateLimitCounter.__table__)).rowcount

    def clear(self, key: str) -> None:
        """Forget ``key``'s count."""
        with self.database.engine.begin() as conn:
            conn.execute(delete(RateLimitCounter.__table__).where(RateLimitCounter.__table__.c.key == key))
