"""The per-app service context handed to services, jobs and connectors (no Flask globals needed)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.crypto import SecretBox
from hub.db import Database
from hub.settings import Settings
from hub.urls import Urls


@dataclass(frozen=True)
class HubContext:
    """What services need beyond a session: settings, URL builder, secret box, database.

    Built once by ``create_app`` (``app.extensions["hub"]``) or by the CLI/worker.
    """

    settings: Settings
    db: Database
    urls: Urls
    box: SecretBox

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None = None) -> HubContext:
        return cls(
            settings=settings,
            db=db
            or Database(
                settings.database_url,
                connect_timeout=settings.db_connect_timeout_seconds,
                statement_timeout_ms=settings.db_statement_timeout_ms,
            ),
            urls=Urls(settings.base_url),
            box=SecretBox(settings.key_encryption_key),
        )


def current_context() -> HubContext:
    """The context of the running Flask app (for views of the hub and of connectors)."""
    from flask import current_app

    return current_app.extensions["hub"]


def request_session():
    """The current request's database session: one per request, shared by the hub's views and the
    connectors' console screens and API routes (which may not import :mod:`hub.web`), so a request
    never holds two transactions (on SQLite the second writer would wait for the first). Opened on
    first use (read-only for GET/HEAD/OPTIONS, so a page never holds SQLite's write lock while it
    renders), committed at the end of a writing request that succeeded (:func:`hub.web.commit_db_session`),
    closed at teardown."""
    from flask import g, request

    if "hub_session" not in g:
        db = current_context().db
        reading = request.method in ("GET", "HEAD", "OPTIONS")
        g.hub_session = db.ReadSession() if reading else db.Session()
    return g.hub_session
