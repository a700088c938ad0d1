"""The hub's web layer: public pages, JSON API, admin console. Views call services, never models' tables
of another domain directly."""

from __future__ import annotations

from flask import g, request
from sqlalchemy.orm import Session

from hub.context import current_context


def db_session() -> Session:
    """The request's session (opened on first use, closed at teardown). Views that write commit it."""
    if "hub_session" not in g:
        db = current_context().db
        # Reads (GET, HEAD) must not hold SQLite's write lock while they render or stream.
        reading = request.method in ("GET", "HEAD", "OPTIONS")
        g.hub_session = db.ReadSession() if reading else db.Session()
    return g.hub_session


def close_db_session(_exc=None) -> None:
    session = g.pop("hub_session", None)
    if session is not None:
        session.close()
