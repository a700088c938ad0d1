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
            db=db or Database(settings.database_url),
            urls=Urls(settings.base_url),
            box=SecretBox(settings.key_encryption_key),
        )


def current_context() -> HubContext:
    """The context of the running Flask app (for views of the hub and of connectors)."""
    from flask import current_app

    return current_app.extensions["hub"]


def request_session():
    """The current request's database session (a ``sqlalchemy.orm.Session``, opened on first use and
    closed at the end of the request; GET, HEAD and OPTIONS read without SQLite's write lock). Views that
    write commit it. The console's sign-in check and the API's token check use this session, so
    connectors' console and API views (which may not import :mod:`hub.web`) use it too: a second unit of
    work would wait for the SQLite write lock this one holds during an unsafe request."""
    from flask import g, request

    if "hub_session" not in g:
        db = current_context().db
        reading = request.method in ("GET", "HEAD", "OPTIONS")
        g.hub_session = db.ReadSession() if reading else db.Session()
    return g.hub_session
