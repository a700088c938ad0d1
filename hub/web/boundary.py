"""Input that cannot be stored is refused here, at the request boundary, never by the database (a 500);
and a body over the size limit is a 413 however it is sent (:class:`HubRequest`).

One ``before_request`` hook (:func:`refuse_unstorable_input`, registered after the API's authentication
and the console's CSRF check, so a stranger still gets 401 and a stale form 400 first) looks at every
request body the hub parses:

- **JSON** (``application/json`` or ``application/*+json``, any route): text that is not valid Unicode
  (a lone UTF-16 surrogate such as ``"\\ud83c"``, a cut-off emoji: JSON can write it, UTF-8 cannot store
  it) anywhere in it, keys included, is a 422 problem naming the field (``field``: the dotted path,
  ``"items.0.email"``; ``"body"`` for a bare string). A body that is not JSON at all is left to the view,
  which answers 400 as before.
- **JSON bodies of the API** (``/api/v1`` writes with a declared JSON body): a body that is valid JSON but
  not an object (``true``, ``5``, ``null``, ``["a"]``) is a 422 naming ``field: "body"``, unless the
  route's schema takes a list too (:attr:`hub.schemas.ApiSchema.accepts_list`).
- **Forms** (``application/x-www-form-urlencoded``, ``multipart/form-data``): a field whose bytes are not
  UTF-8 is a 422 naming the field. Werkzeug would keep such bytes percent-encoded as text in a URL-encoded
  form: the app's request class parses forms with :class:`StrictFormDataParser`, which refuses them
  whenever the form is first read (the console's CSRF check reads it before this hook). In a multipart
  form Werkzeug writes U+FFFD for them, so a multipart text field with U+FFFD is refused.

Routes that take bodies of another size than ``HUB_MAX_BODY_BYTES`` (one badge file to verify or import,
a push to the Open Badges API) name their limit in :data:`BODY_LIMITS` (:func:`body_limit`): the hook
applies it before it first reads the body, so the route's documented limit is the one that holds.

Views that must see the raw bytes first (the signed webhook intake verifies its signature before reading
anything) set ``reads_raw_body = True`` on the view function and run the same check
(:func:`hub.schemas.invalid_text_at`) themselves after the signature, storing the event as failed.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from flask import Flask, Request, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser
from werkzeug.utils import cached_property
from werkzeug.wsgi import LimitedStream, get_content_length, get_input_stream

from hub.errors import ValidationError
from hub.i18n import lazy as _l
from hub.schemas import invalid_text_at, not_unicode

log = logging.getLogger(__name__)

#: Methods that carry a body the hub reads.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: The problem's ``field`` for the body as a whole.
BODY = "body"


def _view():
    view = current_app.view_functions.get(request.endpoint or "")
    view_class = getattr(view, "view_class", None)
    return getattr(view_class, request.method.lower(), None) if view_class else view


def _json_schema(view):
    """The schema class of the route's JSON body as flask-smorest declared it (``@bp.arguments``), or None."""
    for param in (getattr(view, "_apidoc", None) or {}).get("arguments", {}).get("parameters", []):
        if param.get("in") == "json" or param.get("location") == "json":
            return param.get("schema")
    return None


def _api_request() -> bool:
    # the authenticated API blueprints, and public API routes under /api/ (POST /api/v1/verify)
    return request.blueprint in current_app.extensions.get("hub.api_blueprints", ()) or request.path.startswith("/api/")


def _check_json(view) -> None:
    if _api_request() and _json_schema(view) is None:
        return  # the route reads the raw bytes itself (a framework import streams and checks them)
    data = request.get_data(cache=True)
    if not data.strip():
        return
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return  # not JSON (or nested too deeply): the view's parser answers 400 as it always did
    where = invalid_text_at(doc)
    if where is not None:
        raise not_unicode(where or BODY)
    if request.method in WRITES and _api_request():
        schema = _json_schema(view)
        if schema is None:
            return  # the route reads no JSON body of its own (an import reads the bytes and checks them)
        if isinstance(doc, dict) or (isinstance(doc, list) and getattr(schema, "accepts_list", False)):
            return
        raise ValidationError(
            _l("the JSON body must be an object, not %(value)s", value=json.dumps(doc)[:40]), field=BODY
        )


def _refuse_bytes_not_utf8(raw: bytes) -> None:
    """Refuse a URL-encoded form (``raw``) with a name or value whose bytes are not UTF-8."""
    for pair in raw.split(b"&"):
        name, _, value = (unquote_to_bytes(part.replace(b"+", b" ")) for part in pair.partition(b"="))
        for part in (name, value):
            try:
                part.decode("utf-8")
            except UnicodeDecodeError:
                raise not_unicode(name.decode("utf-8", "backslashreplace")) from None


class StrictFormDataParser(FormDataParser):
    """Werkzeug's form parser, refusing a URL-encoded form whose fields are not UTF-8 (Werkzeug would keep
    the bytes percent-encoded as text) the moment anything reads ``request.form``, the CSRF check included.

    Raises:
        ValidationError: 422 naming the field.
    """

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        raw = stream.read()
        _refuse_bytes_not_utf8(raw)
        return super()._parse_urlencoded(io.BytesIO(raw), mimetype, content_length, options)


class CappedStream(LimitedStream):
    """A streamed body (``Transfer-Encoding: chunked``, no ``Content-Length``) read at most one byte past
    ``limit``: reading that byte is a 413. Werkzeug's own stream stops silently at the limit, so a view
    saw a truncated body (a webhook then failed its signature check with 401, the API its JSON with 400).
    """

    def __init__(self, stream, limit: int) -> None:
        super().__init__(stream, limit + 1, is_max=True)
        self.cap = limit

    def readinto(self, b) -> int | None:  # type: ignore[override]
        """Raises RequestEntityTooLarge once more than ``limit`` bytes came."""
        n = super().readinto(b)
        if self._pos > self.cap:
            raise RequestEntityTooLarge()
        return n


class HubRequest(Request):
    """The app's request class: forms are read by :class:`StrictFormDataParser`; a streamed body over the
    request's ``max_content_length`` is a 413 (:class:`CappedStream`), as one with ``Content-Length`` is."""

    form_data_parser_class = StrictFormDataParser

    @cached_property
    def stream(self):  # type: ignore[override]
        limit = self.max_content_length
        if limit is not None and get_content_length(self.environ) is None and self.environ.get("wsgi.input_terminated"):
            return CappedStream(self.environ["wsgi.input"], limit)
        return get_input_stream(self.environ, max_content_length=limit)


def _check_multipart() -> None:
    for name, value in request.form.items(multi=True):
        if "\ufffd" in value:  # Werkzeug decodes a multipart field's bytes with errors="replace"
            raise not_unicode(name)


#: Body limits by endpoint or blueprint name: a function of the app's settings giving bytes.
BODY_LIMITS: dict[str, Callable[..., int]] = {}


def body_limit(name: str, limit: Callable[..., int]) -> None:
    """Give the endpoint or blueprint ``name`` (an endpoint wins over its blueprint) the request body
    limit ``limit(settings)``, in bytes, instead of the app's (``HUB_MAX_BODY_BYTES``)."""
    BODY_LIMITS[name] = limit


def _apply_body_limit() -> None:
    for name in (request.endpoint, request.blueprint):
        if name in BODY_LIMITS:
            request.max_content_length = BODY_LIMITS[name](current_app.extensions["hub"].settings)
            return


def refuse_unstorable_input() -> None:
    """The ``before_request`` hook (see the module docstring).

    Raises:
        ValidationError: 422, ``field`` naming where the input is not storable.
    """
    _apply_body_limit()
    if request.method not in WRITES:
        return
    view = _view()
    if getattr(view, "reads_raw_body", False):
        return
    mimetype = request.mimetype
    if mimetype == "application/json" or (mimetype.startswith("application/") and mimetype.endswith("+json")):
        _check_json(view)
    elif mimetype == "application/x-www-form-urlencoded":
        request.form  # noqa: B018  (parsed by StrictFormDataParser, which refuses bytes that are not UTF-8)
    elif mimetype == "multipart/form-data":
        _check_multipart()


def init_app(app: Flask) -> None:
    """Register :func:`refuse_unstorable_input` (after the API's and the console's own hooks) and
    :class:`HubRequest` as the app's request class."""
    app.request_class = HubRequest
    app.before_request(refuse_unstorable_input)
