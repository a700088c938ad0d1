"""Error rendering: RFC 9457 problem JSON for machines, a readable page for people.

Every error is logged once here with its status; 5xx with a traceback. Database outages become 503
with ``Retry-After`` so a webhook sender retries later (nothing was half-written: the unit of work
rolled back).
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from hub.context import current_context
from hub.errors import HubError, ServiceUnavailable, ValidationError
from hub.web.negotiation import wants_problem_json

log = logging.getLogger(__name__)


def problem(status: int, slug: str, title: str, detail: str, extra: dict | None = None, headers=None):
    """Render a problem as JSON (``application/problem+json``) or as the HTML error page."""
    if wants_problem_json():
        body = {
            **(extra or {}),  # extension members never replace the standard ones
            "type": f"{current_context().settings.base_url}/problems/{slug}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": request.path,
        }
        response = jsonify(body)
        response.mimetype = "application/problem+json"
    else:
        response = render_template("error.html", status=status, title=title, detail=detail)
    return response, status, headers or {}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HubError)
    def hub_error(exc: HubError):
        level = logging.ERROR if exc.status >= 500 else logging.WARNING
        log.log(level, "%s %s -> %d %s: %s", request.method, request.path, exc.status, exc.slug, exc.detail)
        headers = {"Retry-After": "30"} if exc.status == 503 else None
        if isinstance(exc.extra.get("retry_after"), int):
            headers = {"Retry-After": str(exc.extra["retry_after"])}
        if exc.status == 401:
            scheme = "Bearer" if exc.slug == "unauthorized" else "Signature"
            headers = {"WWW-Authenticate": f'{scheme} realm="badgehub"'}
        return problem(exc.status, exc.slug, exc.title, exc.detail, exc.extra, headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(exc):
        log.error("%s %s -> 503: database error %s", request.method, request.path, type(exc.orig).__name__)
        err = ServiceUnavailable("the database is unreachable; nothing was stored, retry later")
        return problem(err.status, err.slug, err.title, err.detail, headers={"Retry-After": "30"})

    @app.errorhandler(CSRFError)
    def form_expired(exc: CSRFError):
        log.warning("%s %s -> 400 csrf: %s", request.method, request.path, exc.description)
        return problem(
            400,
            "form-expired",
            _("The form has expired"),
            _("The page was open too long or the form came from another site. Reload the page and try again."),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        log.warning("%s %s -> %d", request.method, request.path, exc.code)
        # webargs (flask-smorest) refuses arguments with a 422 carrying per-location, per-field messages.
        messages = (getattr(exc, "data", None) or {}).get("messages")
        if exc.code == 422:
            err = ValidationError("the parameters or body are invalid")
            return problem(err.status, err.slug, err.title, err.detail, {"errors": messages} if messages else None)
        slug = (exc.name or "error").lower().replace(" ", "-")
        return problem(exc.code or 500, slug, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("%s %s -> 500", request.method, request.path)
        return problem(500, "internal-error", "Internal error", "an unexpected error occurred; it has been logged")
