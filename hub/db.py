"""Database plumbing: declarative base, naming convention, mixins, engine and sessions.

One :class:`Database` per app (``app.extensions["hub.db"]``). Services receive a
:class:`sqlalchemy.orm.Session` and only ``flush``; the boundary (a request, a job, a CLI command)
commits once (DESIGN.md, "Habits worth copying"). The same models run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import ColumnElement, DateTime, MetaData, Select, String, create_engine, event, literal, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_public_id() -> str:
    """A random public identifier (UUID4, 36 characters). Row ids are never exposed."""
    return str(uuid.uuid4())


class UTCDateTime(TypeDecorator):
    """Stores UTC and always returns timezone-aware UTC datetimes, on SQLite (which keeps no zone) too.

    Raises:
        ValueError: a naive datetime is bound (ambiguous; the hub only uses aware UTC).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base for every hub model (one MetaData, one naming convention for Alembic)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class PublicIdMixin:
    """Integer primary key for joins, random ``public_id`` for URLs."""

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(36), unique=True, default=new_public_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def normalise_url(url: str) -> str:
    """Map ``postgresql://`` to the psycopg 3 driver; leave other URLs as they are."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


class casefold(GenericFunction):  # noqa: N801 - an SQL function's name
    """``casefold(text)``: the text case-folded for case-insensitive comparison, Unicode-aware on both
    databases. SQLite's own ``lower()``/``LIKE`` fold ASCII only (``Ż`` would not find ``ż``), so on SQLite
    it is Python's :meth:`str.casefold`, registered on every connection (:func:`_sqlite_pragmas`); on
    PostgreSQL it compiles to ``lower()``, which folds by the database's ``LC_CTYPE`` (a UTF-8 locale,
    as ``initdb`` makes by default). Apply it to both sides of a comparison (see :func:`folded_contains`)."""

    type = String()
    inherit_cache = True


@compiles(casefold, "postgresql")
def _casefold_postgresql(element, compiler, **kw) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


def _casefold(value):
    return value.casefold() if isinstance(value, str) else value


def like_escape(text: str, escape: str = "\\") -> str:
    """``text`` with the LIKE wildcards ``%`` and ``_`` (and the escape character) escaped, so it matches
    itself only; use with ``like(..., escape="\\")``."""
    return text.replace(escape, escape * 2).replace("%", escape + "%").replace("_", escape + "_")


def folded_contains(column, text: str) -> ColumnElement[bool]:
    """``column`` contains ``text``, case-insensitively for any script (``żółć`` finds ``Ola Żółć``);
    ``%`` and ``_`` in ``text`` are matched literally. Both sides go through :class:`casefold`."""
    pattern = literal("%" + like_escape(text) + "%", String)
    return casefold(column).like(casefold(pattern), escape="\\")


def _sqlite_pragmas(dbapi_conn, _record):
    # Unicode-aware case folding for searches (see casefold above).
    dbapi_conn.create_function("casefold", 1, _casefold, deterministic=True)
    # Let SQLAlchemy, not the sqlite3 module, issue BEGIN, so SAVEPOINTs work
    # (https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#serializable-isolation-savepoints-transactional-ddl).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    # WAL lets the web process and the worker read while one writes; busy_timeout makes writers
    # queue instead of failing with "database is locked".
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def _sqlite_begin(conn) -> None:
    # Units of work take the write lock up front (IMMEDIATE): a deferred transaction that reads, then
    # writes, fails at once with SQLITE_BUSY when another writer committed in between (WAL snapshot).
    # Read-only scopes (Database.read_scope, GET requests) begin DEFERRED, so a long read (an export,
    # a stream) never holds the write lock; in WAL mode readers and the writer do not block each other.
    mode = conn.get_execution_options().get("hub_sqlite_begin", "IMMEDIATE")
    conn.exec_driver_sql(f"BEGIN {mode}")


@cache
def _store_lazy_texts_in_english() -> None:
    """A lazy text (:mod:`hub.i18n`, e.g. a service error's ``detail``) bound as a query parameter is
    stored in English, the language of stored records, whatever the request's language (and instead of
    the driver refusing the object). JSON columns do the same through :func:`_json_dumps`."""
    import sqlite3

    from flask_babel.speaklater import LazyString

    from hub.i18n import LazyJoin, LazyNumber, LazyText, english

    for cls in (LazyString, LazyText, LazyNumber, LazyJoin):  # sqlite3 matches the exact type
        sqlite3.register_adapter(cls, english)
    try:
        import psycopg
        from psycopg.adapt import Dumper
    except ImportError:  # pragma: no cover - psycopg is a dependency
        return

    class EnglishText(Dumper):
        oid = 0  # "unknown", as psycopg sends str: the server infers text, varchar or json

        def dump(self, obj) -> bytes:
            return english(obj).encode("utf-8")

    psycopg.adapters.register_dumper(LazyString, EnglishText)  # subclasses included


def _json_default(value):
    from flask_babel.speaklater import LazyString

    from hub.i18n import english

    if isinstance(value, LazyString):
        return english(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json_dumps(value) -> str:
    return json.dumps(value, default=_json_default)


def make_engine(url: str, **kwargs) -> Engine:
    """Create an engine for ``url`` with the hub's per-dialect settings."""
    _store_lazy_texts_in_english()
    kwargs.setdefault("json_serializer", _json_dumps)
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


class Database:
    """Engine + session factory. ``session_scope()`` commits on success and rolls back on error."""

    def __init__(self, url: str, **engine_kwargs):
        self.engine = make_engine(url, **engine_kwargs)
        self.Session = sessionmaker(self.engine, expire_on_commit=False)
        self.ReadSession = sessionmaker(
            self.engine.execution_options(hub_sqlite_begin="DEFERRED"), expire_on_commit=False
        )
        # PostgreSQL runs a single statement atomically by itself; sending it without BEGIN and COMMIT
        # saves two of its three round trips. SQLite round trips are in-process calls: no need there.
        single = self.engine
        if self.dialect != "sqlite":
            single = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.StatementSession = sessionmaker(single, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @staticmethod
    @contextmanager
    def _scope(factory) -> Iterator[Session]:
        session = factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def session_scope(self) -> AbstractContextManager[Session]:
        """A unit of work: yields a session, commits at the end, rolls back and re-raises on error."""
        return self._scope(self.Session)

    def statement_scope(self) -> AbstractContextManager[Session]:
        """A unit of work that is ONE writing statement (e.g. the intake's ``INSERT … RETURNING``): on
        PostgreSQL each statement commits by itself (autocommit), so use it only where every statement
        is complete on its own; on SQLite it is :meth:`session_scope`."""
        return self._scope(self.StatementSession)

    def read_scope(self) -> AbstractContextManager[Session]:
        """A read-mostly session: on SQLite its transaction begins DEFERRED, so it never holds the write
        lock while it reads (a write in it still works, waiting for the lock). Commits at the end."""
        return self._scope(self.ReadSession)

    def dispose(self) -> None:
        self.engine.dispose()


def claim_filter(column, pick: Select, dialect: str) -> ColumnElement[bool]:
    """``column IN (pick)`` for an ``UPDATE … RETURNING`` that claims queue rows (inbox events, e-mails,
    jobs): ``pick`` selects the ids to claim, ordered and with its ``LIMIT``.

    On PostgreSQL ``pick`` gets ``FOR UPDATE SKIP LOCKED`` (concurrent claimers take disjoint rows) and
    becomes a ``MATERIALIZED`` CTE, run exactly once. As a plain ``IN (subquery)`` the planner may
    choose a nested-loop semi-join that runs the locking subquery again for every row the UPDATE
    looks at; each run skips the rows the statement has just updated and locks the next ones, so the
    ``LIMIT`` does not hold: a claim of 50 events took every pending event (all 60 of 60 in the test,
    every job for a claim of one)."""
    if dialect == "postgresql":
        picked = pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        return column.in_(select(*picked.c))
    return column.in_(pick.scalar_subquery())
