"""The hub's security headers, in one place; the one rule for linking to a URL someone else typed; ids
with NUL refused before they reach the database.

:func:`init_app` adds one ``after_request`` hook that chooses each response's headers by what it is:

- images (``image/*``, e.g. ``/badges/<id>/image``, ``/assertions/<id>/baked.svg``,
  ``/credentials/<id>/baked.svg``): :data:`IMAGE_CSP`, so an SVG opened on its own can neither run script
  nor load anything (CSP3 ``sandbox``, https://www.w3.org/TR/CSP3/#directive-sandbox);
- console pages (:func:`hub.web.admin.is_console_request`): :data:`CONSOLE_CSP`, ``X-Frame-Options:
  DENY``, ``Cache-Control: no-store``;
- the public and learner pages (blueprints in :data:`PAGE_BLUEPRINTS`, and errors outside any blueprint):
  :func:`page_csp` (the hub's own scripts and styles only, never framed) and ``X-Frame-Options: DENY``;
  the learner's personal pages (all but :data:`PERSONAL_EXCEPTIONS`) ``Cache-Control: no-store`` and
  ``Referrer-Policy: no-referrer`` (their URLs carry sign-in and claim tokens);
- every response: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin`` unless set,
  HSTS when the hub is served over https.

Blueprints not named here keep their own policy: the LTI tool's pages are framed by the LMS and set
their own ``frame-ancestors`` (:mod:`connectors.lti.framing`); the JSON API and webhook intake answer
JSON only. The badge page's embed snippet is a link around an ``<img>`` (no frame), so no page needs
to be framed.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app, request
from markupsafe import Markup, escape
from werkzeug.exceptions import NotFound

#: The console's policy: only the hub's own scripts, styles and images (blob: for the preview of an
#: image chosen for upload, which never leaves the browser); no framing.
CONSOLE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

#: Every image the hub serves (badge and issuer images, baked badges, previews): nothing loads or runs
#: even when an SVG is opened as a document; inline styles and ``data:`` images inside it still show.
IMAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"

#: Blueprints of the public and learner pages (``None``: a 404/405 answered before any view).
PAGE_BLUEPRINTS = frozenset({"public", "ob3", "certificates", "learner", None})

#: Learner-blueprint pages that are public, not personal (cacheable like any public page).
PERSONAL_EXCEPTIONS = frozenset({"learner.portfolio"})

#: The schemes a link to someone else's URL may have (evidence, criteria, issuer and outcome URLs).
WEB_SCHEMES = frozenset({"http", "https"})


def page_csp(base_url: str) -> str:
    """The Content-Security-Policy of a public or learner page (CSP3, https://www.w3.org/TR/CSP3/).

    Scripts, styles and forms only from the hub (``'self'`` and the origin of ``base_url``, which is where
    absolute links and redirects point when the hub sits behind a proxy); images also as ``data:``;
    no plug-ins, no ``<base>``, never framed. ``javascript:`` links cannot run, as inline script is not
    allowed (https://www.w3.org/TR/CSP3/#should-block-navigation-request).
    """
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    own = f"'self' {origin}".strip()
    return (
        f"default-src 'self'; img-src {own} data:; style-src {own}; script-src {own}; object-src 'none'; "
        f"base-uri 'none'; form-action {own}; frame-ancestors 'none'"
    )


def web_url(value) -> str | None:
    """``value`` when it is an absolute ``http``/``https`` URL with a host, else ``None``.

    Browsers drop leading C0 controls and spaces and every tab and newline before reading a scheme
    (WHATWG URL, https://url.spec.whatwg.org/#concept-basic-url-parser), so a value with any of them is
    never a link: ``" javascript:"`` or ``"java\\tscript:"`` stay text.
    """
    if not isinstance(value, str) or not value or any(c <= " " or c == "\x7f" for c in value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an invalid IPv6 host
        return None
    return value if parts.scheme.lower() in WEB_SCHEMES and parts.netloc else None


def link(url, text=None, rel: str | None = None) -> Markup:
    """An ``<a href>`` to ``url`` showing ``text`` (``url`` itself by default) when :func:`web_url`
    accepts ``url``; otherwise ``text`` alone, escaped, without a link. ``text`` may be Markup (e.g.
    ``bdi(name)``). The one way templates link to URLs that came from outside (a template global)."""
    shown = escape(url if text is None else text)
    href = web_url(url)
    if href is None:
        return Markup(shown)
    rel_attr = Markup(' rel="%s"') % rel if rel else ""
    return Markup('<a href="%s"%s>%s</a>') % (href, rel_attr, shown)


def _apply(response: Response) -> Response:
    from hub.web.admin import is_console_request

    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    settings = current_app.extensions["hub"].settings
    if (response.mimetype or "").startswith("image/"):
        headers["Content-Security-Policy"] = IMAGE_CSP
    elif is_console_request():
        headers["Content-Security-Policy"] = CONSOLE_CSP
        headers["X-Frame-Options"] = "DENY"
        headers["Cache-Control"] = "no-store"
    elif request.blueprint in PAGE_BLUEPRINTS:
        if response.mimetype == "text/html":
            headers["Content-Security-Policy"] = page_csp(settings.base_url)
            headers["X-Frame-Options"] = "DENY"
        if request.blueprint == "learner" and request.endpoint not in PERSONAL_EXCEPTIONS:
            headers["Cache-Control"] = "no-store"
            headers["Referrer-Policy"] = "no-referrer"
    if settings.base_url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _refuse_nul_ids(_endpoint: str | None, values: dict | None) -> None:
    """No id holds U+0000 (PostgreSQL text cannot store it, and refuses it as a query parameter): a path
    value with one is a 404 before any view queries the database (which would answer 503 and log an
    error)."""
    if values and any(isinstance(v, str) and "\x00" in v for v in values.values()):
        raise NotFound()


def init_app(app: Flask) -> None:
    """Add the header hook, the NUL-in-path check and the ``link`` / ``web_url`` template helpers to
    ``app`` (once, from ``create_app``, after the console is registered)."""
    app.url_value_preprocessor(_refuse_nul_ids)
    app.after_request(_apply)
    app.add_template_global(link, "link")
    app.add_template_filter(web_url, "web_url")
