"""The hub's web layer: public pages, JSON API, admin console. Views call services, never models' tables
of another domain directly."""

from __future__ import annotations

from flask import Flask, g
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session

from hub.context import request_session

#: Flask-WTF's CSRF protection, one for every HTML form of the hub (console, learner pages, connectors'
#: screens). It checks only where a view or blueprint calls ``csrf.protect()``: the JSON API and webhook
#: intake authenticate by bearer token or signature, never by cookie, so they need no token.
csrf = CSRFProtect()


def init_csrf(app: Flask) -> None:
    """Set up :data:`csrf` on ``app``; templates put ``{{ csrf_token() }}`` in a hidden ``csrf_token`` field."""
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)  # checked per blueprint, see above
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the token lives as long as the session
    csrf.init_app(app)


def db_session() -> Session:
    """The request's session (opened on first use, closed at teardown). Views that write commit it.
    See :func:`hub.context.request_session`."""
    return request_session()


def close_db_session(_exc=None) -> None:
    session = g.pop("hub_session", None)
    if session is not None:
        session.close()
