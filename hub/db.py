"""Database plumbing: declarative base, naming convention, mixins, engine and sessions.

One :class:`Database` per app (``app.extensions["hub.db"]``). Services receive a
:class:`sqlalchemy.orm.Session` and only ``flush``; the boundary (a request, a job, a CLI command)
commits once (DESIGN.md, "Habits worth copying"). The same models run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
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


# Fixed parts of the PostgreSQL connection policy (the two tunable ones are settings, see make_engine).
PING_SECONDS = 1.0  # an answer to the check-out ping, s; none: the connection is replaced (not an error)
#: A pooled connection checked in less than this many seconds ago skips the check-out ping in a
#: :meth:`Database.statement_scope` (see ``_ping``): under load every connection is that fresh.
PING_IDLE_SECONDS = 1.0
# Set while a statement_scope checks out its connection (per thread / task).
_single_statement: ContextVar[bool] = ContextVar("hub_single_statement", default=False)
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3, "keepalives_count": 3}


def _deadline_connection_class():
    """A psycopg 3 connection that gives up waiting for the server after ``hub_wait_seconds``.

    libpq has no read timeout: a statement on an established connection whose server stopped answering
    (a black-holed network, a hung server or proxy that still acknowledges packets) waits forever, and
    ``statement_timeout`` cannot help because the server never got the statement. Every psycopg wait for
    the server goes through :meth:`psycopg.Connection.wait`; this one bounds it, closes the connection
    (its state is unknown) and raises :class:`psycopg.OperationalError`, which SQLAlchemy treats as a
    disconnect (the pool drops the connection) and the web layer answers with 503 + ``Retry-After``.
    """
    import psycopg

    class DeadlineConnection(psycopg.Connection):
        hub_wait_seconds: float | None = None

        def wait(self, gen, interval=0.1, timeout=None):
            limit = self.hub_wait_seconds
            if timeout is not None or limit is None:  # psycopg's own bounded waits (cancel, notifies)
                return super().wait(gen, interval=interval, timeout=timeout)
            started = time.monotonic()
            try:
                return super().wait(gen, interval=interval, timeout=limit)
            except psycopg.OperationalError:  # psycopg raises its _WaitTimeout, an OperationalError
                if time.monotonic() - started < limit:
                    raise
                self.pgconn.finish()  # half-way through a protocol exchange: unusable
                raise psycopg.OperationalError(f"no answer from the database within {limit:g} s") from None

    return DeadlineConnection


def _postgresql_policy(engine: Engine, connect_timeout: int, statement_timeout_ms: int) -> None:
    """Bound every wait on PostgreSQL: connect, check-out ping, statements (see :func:`make_engine`)."""
    from sqlalchemy import exc

    connection_class = _deadline_connection_class()
    wait_seconds = statement_timeout_ms / 1000 + connect_timeout if statement_timeout_ms else None

    @event.listens_for(engine, "do_connect")
    def _connect(dialect, record, cargs, cparams):
        conn = connection_class.connect(*cargs, **cparams)
        conn.hub_wait_seconds = wait_seconds
        record.info["hub_fresh"] = True
        return conn

    # The bound of the one statement of a statement_scope that skipped the ping: the ping's own bound
    # plus a new connection's, so a black-holed server still answers the request within the same time.
    single_wait = PING_SECONDS + connect_timeout

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, _proxy):
        # SQLAlchemy's pool_pre_ping would wait for the answer as long as any statement; a pooled
        # connection to a black-holed server is given PING_SECONDS, then replaced by a new connection
        # (bounded by connect_timeout). A connection made for this check-out needs no ping.
        if record.info.pop("hub_fresh", False):
            return
        raw = getattr(dbapi_conn, "driver_connection", dbapi_conn)
        if _single_statement.get() and time.monotonic() - record.info.get("hub_checked_in", 0.0) < PING_IDLE_SECONDS:
            # The intake's one INSERT (statement_scope) on a connection used a moment ago: no ping round
            # trip (a fifth of a webhook's cost, bench/intake.py --profile); the statement itself is
            # bounded as ping + reconnect are. A server that went away in that moment costs this one
            # request a 503 (never a 202 for an event not stored), the sender's retry gets a new connection.
            raw.hub_wait_seconds = single_wait
            return
        saved, raw.hub_wait_seconds = raw.hub_wait_seconds, PING_SECONDS
        try:
            raw.execute("SELECT 1").close()
            if raw.info.transaction_status != 0:  # IDLE: the ping opened a transaction (not autocommit)
                raw.rollback()
        except Exception as error:
            raise exc.DisconnectionError(f"check-out ping failed: {error}") from error
        finally:
            raw.hub_wait_seconds = saved

    @event.listens_for(engine, "checkin")
    def _checked_in(dbapi_conn, record):
        if dbapi_conn is None:  # invalidated
            return
        record.info["hub_checked_in"] = time.monotonic()
        raw = getattr(dbapi_conn, "driver_connection", dbapi_conn)
        raw.hub_wait_seconds = wait_seconds


def make_engine(
    url: str,
    *,
    connect_timeout: int = 3,
    statement_timeout_ms: int = 30_000,
    **kwargs,
) -> Engine:
    """Create an engine for ``url`` with the hub's per-dialect settings.

    Args:
        url: SQLAlchemy URL (``sqlite:///…`` or ``postgresql://…``, which uses psycopg 3).
        connect_timeout: PostgreSQL only, seconds (at least 2, libpq's floor): the longest wait for a new
            connection (libpq ``connect_timeout``) and for a free one from the pool (``pool_timeout``).
        statement_timeout_ms: PostgreSQL only, milliseconds, 0 for none: the server cancels a statement
            running longer (``options=-c statement_timeout=…``); the client stops waiting for an answer
            ``connect_timeout`` seconds after that, e.g. when packets to the server are dropped.
        kwargs: passed to :func:`sqlalchemy.create_engine`.

    On PostgreSQL a pooled connection is pinged at check-out with a :data:`PING_SECONDS` bound, TCP
    keepalives (:data:`KEEPALIVE`) and ``tcp_user_timeout`` notice a dead peer on idle and busy
    connections. Errors: a server that cannot be reached in time raises
    :class:`sqlalchemy.exc.OperationalError` (503 at the web boundary, :mod:`hub.web.errors`). See
    https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-PARAMKEYWORDS.
    """
    _store_lazy_texts_in_english()
    kwargs.setdefault("json_serializer", _json_dumps)
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_timeout = max(2, int(connect_timeout))
    connect_args = {
        "connect_timeout": connect_timeout,
        # Unacknowledged data only (a slow statement is acknowledged by the server's TCP stack): a
        # connection into a black hole is dropped after this and replaced once the server is back,
        # rather than waiting out TCP's retransmission backoff (seconds after the network returns).
        "tcp_user_timeout": (connect_timeout + 2) * 1000,
        **KEEPALIVE,
    }
    if statement_timeout_ms:
        connect_args["options"] = f"-c statement_timeout={int(statement_timeout_ms)}"
    kwargs["connect_args"] = {**connect_args, **kwargs.get("connect_args", {})}
    kwargs.setdefault("pool_timeout", connect_timeout)
    engine = create_engine(url, **kwargs)
    _postgresql_policy(engine, connect_timeout, statement_timeout_ms)
    return engine


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

    @contextmanager
    def statement_scope(self) -> Iterator[Session]:
        """A unit of work that is ONE writing statement (e.g. the intake's ``INSERT … RETURNING``): on
        PostgreSQL each statement commits by itself (autocommit), so use it only where every statement
        is complete on its own; on SQLite it is :meth:`session_scope`. On PostgreSQL a connection used
        less than :data:`PING_IDLE_SECONDS` ago is not pinged first; its statements are then bounded by
        ``PING_SECONDS`` + the connect timeout instead."""
        token = _single_statement.set(True)
        try:
            with self._scope(self.StatementSession) as session:
                yield session
        finally:
            _single_statement.reset(token)

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
    every job for a claim of one).

    ``pick`` should read one ordered range of an index (``status = pending`` and its ``ORDER BY`` the
    index's columns), so it stops after ``LIMIT`` rows. Each queue therefore first puts its abandoned
    claims (stale ``processing``/``sending``/``running`` rows) back to pending in the same transaction
    rather than OR-ing them into ``pick``: with the OR, SQLite and PostgreSQL both collect and sort
    the whole backlog on every claim, a cost that grew with the queue (13,000 stored events: about
    O(n²) over a run; ``bench/paths.py``)."""
    if dialect == "postgresql":
        picked = pick.with_for_update(skip_locked=True).cte("picked").prefix_with("MATERIALIZED")
        return column.in_(select(*picked.c))
    return column.in_(pick.scalar_subquery())
