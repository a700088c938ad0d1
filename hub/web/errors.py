"""Error rendering: RFC 9457 problem JSON for machines, a readable page for people.

Every error is logged once here with its status, in English; 5xx with a traceback. Database outages
become 503 with ``Retry-After`` so a webhook sender retries later (nothing was half-written: the unit of
work rolled back).

Language: ``title`` and ``detail`` (and the texts inside extension members, e.g. an import's
``errors[].message``) are rendered in the request's language (:func:`hub.i18n.select_locale`: ``?lang=``,
the user's setting, ``Accept-Language``, ``HUB_DEFAULT_LOCALE``), with ``Content-Language`` saying which;
the problem ``type`` (slug) and machine-readable members (``field``, ``where``, ``missing``) do not change.
RFC 9457 section 3.1.4 allows a title to change for localisation.
"""

from __future__ import annotations

import json
import logging

from flask import Flask, jsonify, make_response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from hub.context import current_context
from hub.errors import BadRequest, HubError, ServiceUnavailable, ValidationError
from hub.i18n import N_, Lazy, lazy, number, plain
from hub.i18n import lazy as _l
from hub.web.negotiation import wants_problem_json

log = logging.getLogger(__name__)

#: Titles and details for the HTTP errors Werkzeug raises (``abort(404)``, an unknown URL, a wrong
#: method...), so people read them in their language; others keep Werkzeug's English texts.
HTTP_TEXTS = {
    400: (N_("Malformed request"), N_("The request cannot be read.")),
    401: (N_("Authentication required"), N_("Sign in first.")),
    403: (N_("Forbidden"), N_("You may not do this.")),
    404: (N_("Not found"), N_("There is nothing at this address, or you may not see it.")),
    405: (N_("Method not allowed"), N_("This address does not accept this kind of request.")),
    406: (N_("Not acceptable"), N_("There is no answer in a format the client accepts.")),
    413: (N_("Payload too large"), N_("The request is too large.")),
    415: (N_("Unsupported media type"), N_("The request's content type is not accepted here.")),
    429: (N_("Too many requests"), N_("Too many attempts. Wait a moment and try again.")),
    500: (N_("Internal error"), N_("An unexpected error occurred; it has been logged.")),
}


# marshmallow's fixed field messages (webargs answers them per field in a 422's ``errors``), marked for
# translation; messages with values in them ("Length must be between 1 and 255.") stay as marshmallow
# wrote them.
FIELD_MESSAGES = frozenset(
    {
        N_("Missing data for required field."),
        N_("Unknown field."),
        N_("Field may not be null."),
        N_("Invalid input type."),
        N_("Invalid type."),
        N_("Invalid value."),
        N_("Not a valid string."),
        N_("Not a valid integer."),
        N_("Not a valid number."),
        N_("Not a valid boolean."),
        N_("Not a valid list."),
        N_("Not a valid mapping type."),
        N_("Not a valid email address."),
        N_("Not a valid URL."),
        N_("Not a valid UUID."),
        N_("String does not match expected pattern."),
        N_("Not a valid date."),
        N_("Not a valid datetime."),
        N_("Number too large."),
        N_("Invalid JSON body."),
    }
)


def _field_messages(value):
    """webargs' ``{location: {field: [message, ...]}}`` with the known messages translated."""
    if isinstance(value, dict):
        return {k: _field_messages(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_field_messages(v) for v in value]
    return lazy(value) if isinstance(value, str) and value in FIELD_MESSAGES else value


#: Endpoints whose errors are OAuth JSON (``{"error", "error_description"}``), not problem documents: the
#: token, registration and revocation endpoints (RFC 6749, 7591, 7009) and OpenID4VCI's (its section 8.3.1).
OAUTH_JSON_PATHS = ("/oauth/token", "/oauth/register", "/oauth/revoke", "/oid4vci/")


def problem(status: int, slug: str, title: str, detail, extra: dict | None = None, headers=None):
    """Render a problem as JSON (``application/problem+json``) or as the HTML error page, in the
    request's language.

    ``title`` is an English message id (translated here); ``detail`` a string or a lazy text
    (:mod:`hub.i18n`); lazy texts in ``extra`` are rendered too, so ``jsonify`` only meets plain values.
    """
    title_text = _(title) if title else ""
    detail_text = str(detail) if detail else title_text
    if request.path.startswith(OAUTH_JSON_PATHS) and status < 500:
        # OAuth 2.0 clients and wallets read RFC 6749 section 5.2 errors, whatever refused the request
        response = jsonify({"error": "invalid_request", "error_description": detail_text})
        response.status_code = 400 if status == 422 else status
        response.headers.update(headers or {})
        response.headers["Cache-Control"] = "no-store"
        return response
    if wants_problem_json():
        body = {
            **plain(extra or {}),  # extension members never replace the standard ones
            "type": f"{current_context().settings.base_url}/problems/{slug}",
            "title": title_text,
            "status": status,
            "detail": detail_text,
            "instance": request.path,
        }
        response = jsonify(body)
        response.mimetype = "application/problem+json"
    else:
        response = make_response(render_template("error.html", status=status, title=title_text, detail=detail_text))
    response.status_code = status
    response.headers.update(headers or {})
    response.headers["Content-Language"] = str(get_locale() or "en")
    response.vary.add("Accept-Language")
    return response


def _no_tables(exc: DBAPIError) -> bool:
    """Whether ``exc`` says a table is missing (SQLite "no such table", PostgreSQL SQLSTATE 42P01):
    a database nobody ran ``badgehub init`` on."""
    return "no such table" in str(exc.orig) or getattr(exc.orig, "sqlstate", None) == "42P01"


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(HubError)
    def hub_error(exc: HubError):
        level = logging.ERROR if exc.status >= 500 else logging.WARNING
        log.log(level, "%s %s -> %d %s: %s", request.method, request.path, exc.status, exc.slug, exc)
        headers = {"Retry-After": "30"} if exc.status == 503 else None
        if isinstance(exc.extra.get("retry_after"), int):
            headers = {"Retry-After": str(exc.extra["retry_after"])}
        if exc.status == 401:
            scheme = "Bearer" if exc.slug == "unauthorized" else "Signature"
            headers = {"WWW-Authenticate": f'{scheme} realm="badgehub"'}
        headers = {**(headers or {}), **(getattr(exc, "headers", None) or {})}  # e.g. a 415's Accept-Post
        return problem(exc.status, exc.slug, exc.title, exc.detail, exc.extra, headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def database_down(exc):
        if isinstance(exc, DataError):
            # a value the database refuses (a check the boundary missed): the client's input, not an outage
            log.error("%s %s -> 422: the database refused a value: %s", request.method, request.path, exc.orig)
            err: HubError = ValidationError(_l("a value in the request cannot be stored; nothing was stored"))
            return problem(err.status, err.slug, err.title, err.detail)
        if _no_tables(exc):
            log.error("%s %s -> 503: the database has no tables: run `badgehub init`", request.method, request.path)
            err = ServiceUnavailable(_l("the hub's database is not set up yet: its administrator runs badgehub init"))
            return problem(err.status, err.slug, err.title, err.detail, headers={"Retry-After": "30"})
        log.error("%s %s -> 503: database error %s", request.method, request.path, type(exc.orig).__name__)
        err = ServiceUnavailable(_l("the database is unreachable; nothing was stored, retry later"))
        return problem(err.status, err.slug, err.title, err.detail, headers={"Retry-After": "30"})

    @app.errorhandler(CSRFError)
    def form_expired(exc: CSRFError):
        log.warning("%s %s -> 400 csrf: %s", request.method, request.path, exc.description)
        return problem(
            400,
            "form-expired",
            N_("The form has expired"),
            _l("The page was open too long or the form came from another site. Reload the page and try again."),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        log.warning("%s %s -> %d %s", request.method, request.path, exc.code, exc.description or "")
        # webargs (flask-smorest) refuses arguments with a 422 carrying per-location, per-field messages.
        messages = (getattr(exc, "data", None) or {}).get("messages")
        if exc.code == 422:
            err = ValidationError(_l("the parameters or body are invalid"))
            extra = {"errors": _field_messages(messages)} if messages else None
            return problem(err.status, err.slug, err.title, err.detail, extra)
        slug = (exc.name or "error").lower().replace(" ", "-")
        title, detail = exc.name, exc.description or exc.name
        if exc.code in HTTP_TEXTS:
            title = HTTP_TEXTS[exc.code][0]
            # Werkzeug's stock text, not one given by the code; Flask-Limiter's is the limit ("5 per 1 minute")
            # unless the limit gives its own message as a lazy text (``error_message``)
            limiter_text = exc.code == 429 and not isinstance(exc.description, Lazy)
            if exc.description == type(exc).description or limiter_text:
                detail = lazy(HTTP_TEXTS[exc.code][1])
        limit = request.max_content_length
        if exc.code == 413 and limit:
            megabytes = number(round(limit / 1048576, 1))
            detail = _l("The request is larger than %(limit)s MB, the most this address accepts.", limit=megabytes)
        # A method the address does not take: RFC 9110 §15.5.6 requires `Allow` with those it does.
        allow = None
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            allow = {"Allow": ", ".join(exc.valid_methods)}
        return problem(exc.code or 500, slug, title, detail, headers=allow)

    @app.errorhandler(RecursionError)
    def too_deep(exc: RecursionError):
        # Python's JSON decoder recurses once per nesting level, so a small body of 5,000 nested arrays
        # ends here from whichever parser read it (Flask, webargs). Blame the body only when it alone
        # reproduces the error; any other recursion is a bug and stays a logged 500.
        try:
            json.loads(request.get_data(cache=True) or b"null")
        except RecursionError:
            err = BadRequest(_l("the JSON body is nested too deeply"))
            log.warning("%s %s -> 400: JSON nested too deeply", request.method, request.path)
            return problem(err.status, err.slug, err.title, err.detail)
        except ValueError:
            pass
        return unexpected(exc)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("%s %s -> 500", request.method, request.path)
        return problem(500, "internal-error", N_("Internal error"), lazy(HTTP_TEXTS[500][1]))
