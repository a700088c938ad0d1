"""A small key/value store with expiry, shared by every worker: OIDC state, nonces, launch data,
service access tokens.

Two implementations with one contract: :class:`RedisStore` when ``HUB_REDIS_URL`` is set, else
:class:`DatabaseStore` (table ``lti_store``). ``take`` is atomic: of two workers taking the same key at
once, exactly one gets the value; that is what makes a state or nonce single-use across processes.
Values are JSON objects.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from hub.context import HubContext
from hub.db import utcnow

from .models import LtiStoreEntry

log = logging.getLogger(__name__)
PREFIX = "badgehub:lti:"


class Store:
    """Contract of the shared store. Keys are strings of at most 200 characters; ``ttl`` in seconds."""

    def put(self, key: str, value: dict[str, Any], ttl: int) -> None:
        """Set ``key`` (overwriting) for ``ttl`` seconds."""
        raise NotImplementedError

    def add(self, key: str, value: dict[str, Any], ttl: int) -> bool:
        """Set ``key`` only when it is absent (or expired); True when this call set it."""
        raise NotImplementedError

    def get(self, key: str) -> dict[str, Any] | None:
        """The live value of ``key``, or None."""
        raise NotImplementedError

    def take(self, key: str) -> dict[str, Any] | None:
        """Remove ``key`` and return its live value; None when absent, expired or taken by another caller."""
        raise NotImplementedError


class RedisStore(Store):
    """Redis (https://redis.io/commands/): ``SET EX``, ``SET NX EX``, ``GET``, ``GETDEL`` (Redis >= 6.2)."""

    def __init__(self, url: str):
        import redis

        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)

    def put(self, key, value, ttl):
        self._redis.set(PREFIX + key, json.dumps(value), ex=max(int(ttl), 1))

    def add(self, key, value, ttl):
        return bool(self._redis.set(PREFIX + key, json.dumps(value), ex=max(int(ttl), 1), nx=True))

    def get(self, key):
        raw = self._redis.get(PREFIX + key)
        return json.loads(raw) if raw is not None else None

    def take(self, key):
        raw = self._redis.getdel(PREFIX + key)
        return json.loads(raw) if raw is not None else None


class DatabaseStore(Store):
    """The ``lti_store`` table; each call is its own short transaction. Expired rows are ignored and
    swept on writes (a cheap indexed delete), so the table stays small without a cron job."""

    def __init__(self, ctx: HubContext):
        self._db = ctx.db

    def _sweep(self, session) -> None:
        session.execute(delete(LtiStoreEntry).where(LtiStoreEntry.expires_at < utcnow()))

    def put(self, key, value, ttl):
        with self._db.session_scope() as s:
            self._sweep(s)
            row = s.get(LtiStoreEntry, key)
            expires = utcnow() + timedelta(seconds=ttl)
            if row is None:
                s.add(LtiStoreEntry(key=key, value=json.dumps(value), expires_at=expires))
            else:
                row.value, row.expires_at = json.dumps(value), expires

    def add(self, key, value, ttl):
        try:
            with self._db.session_scope() as s:
                s.execute(delete(LtiStoreEntry).where(LtiStoreEntry.key == key, LtiStoreEntry.expires_at < utcnow()))
                s.add(LtiStoreEntry(key=key, value=json.dumps(value), expires_at=utcnow() + timedelta(seconds=ttl)))
        except IntegrityError:
            return False
        return True

    def get(self, key):
        with self._db.session_scope() as s:
            row = s.scalar(select(LtiStoreEntry).where(LtiStoreEntry.key == key, LtiStoreEntry.expires_at >= utcnow()))
            return json.loads(row.value) if row else None

    def take(self, key):
        with self._db.session_scope() as s:
            row = s.scalar(select(LtiStoreEntry).where(LtiStoreEntry.key == key))
            if row is None:
                return None
            value, live = row.value, row.expires_at >= utcnow()
            # The DELETE's row count decides between concurrent takers: only one deletes the row.
            deleted = s.execute(delete(LtiStoreEntry).where(LtiStoreEntry.key == key)).rowcount
            return json.loads(value) if deleted == 1 and live else None


def make_store(ctx: HubContext) -> Store:
    """The store the settings ask for: Redis when ``HUB_REDIS_URL`` is set, else the database."""
    if ctx.settings.redis_url:
        return RedisStore(ctx.settings.redis_url)
    return DatabaseStore(ctx)
