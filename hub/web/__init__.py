"""The hub's web layer: public pages, JSON API, admin console. Views call services, never models' tables
of another domain directly."""

from __future__ import annotations

from flask import Flask, current_app, g, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.exc import SQLAlchemyError
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
    """The request's session (opened on first use, closed at teardown), committed at the request's
    boundary (:func:`commit_db_session`). See :func:`hub.context.request_session`."""
    return request_session()


#: Methods whose requests never write: their session is read-only in spirit and never committed.
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def commit_db_session(response):
    """The request's unit of work ends here (an ``after_request`` hook): a writing request (POST, PUT,
    PATCH, DELETE) that answered below 400 commits its session once, which runs the after-commit effects
    its operations registered (:mod:`hub.operations.uow`); an error answer rolls back. A GET never
    commits: public pages and reads write nothing. A commit that fails is answered as that error would be
    (a database that went away: 503 problem JSON with ``Retry-After``), never as the success the view
    prepared."""
    session = g.get("hub_session")
    if session is None:
        return response
    if request.method in SAFE_METHODS or response.status_code >= 400:
        session.rollback()
        return response
    try:
        session.commit()
    except SQLAlchemyError as exc:
        session.rollback()
        return current_app.make_response(current_app.handle_user_exception(exc))
    return response


def close_db_session(_exc=None) -> None:
    session = g.pop("hub_session", None)
    if session is not None:
        session.close()
