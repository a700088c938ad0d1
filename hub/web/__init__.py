"""The hub's web layer: public pages, JSON API, admin console. Views call services, never models' tables
of another domain directly."""

from __future__ import annotations

from flask import g
from sqlalchemy.orm import Session

from hub.context import request_session


def db_session() -> Session:
    """The request's session (opened on first use, closed at teardown). Views that write commit it."""
    return request_session()


def close_db_session(_exc=None) -> None:
    session = g.pop("hub_session", None)
    if session is not None:
        session.close()
