"""Who may frame the tool's pages: ``Content-Security-Policy: frame-ancestors`` for the LTI pages.

An LMS shows the tool in an iframe, so the pages cannot forbid framing altogether (as the console does),
but only the registered platforms may frame them (CSP Level 3, https://www.w3.org/TR/CSP3/#directive-frame-ancestors;
clickjacking defence). A platform's origins are the scheme, host and port of its ``issuer`` and of its
``auth_login_url`` (Canvas signs in on another host than its issuer). A launch adds the origins of its
own signed claims ``launch_presentation.return_url`` and ``tool_platform.url`` (the page the LMS really
serves, e.g. a school's Canvas host), so the launched course pages stay framable by their LMS.

The origins of the active registrations are read once and kept per app and process for :data:`TTL`
seconds; :func:`forget` drops them after a registration changes (other processes catch up within the
TTL, and a launch of a registration missing from the kept list reads it again at once).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select

from hub.context import HubContext
from hub.operations.uow import after_commit

from .models import ACTIVE, LtiRegistration

#: Seconds the active registrations' origins are kept per process.
TTL = 30.0
#: A missing registration triggers a fresh read at most this often (seconds).
MISS_INTERVAL = 1.0
NONE = "'none'"
_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_EXTENSION = "lti.frame_origins"


def origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of an http(s) ``url`` (lower case, default port left out), or None when
    ``url`` is not an http(s) URL with a plain host name or IP address (nothing that could end or extend
    the policy, such as ``;`` or spaces, ever reaches the header)."""
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if ":" in host:  # IPv6 literal
        if not re.fullmatch(r"[0-9a-f:.]+", host):
            return None
        host = f"[{host}]"
    elif not _HOST.match(host):
        return None
    return f"{scheme}://{host}" + (f":{port}" if port and port != _DEFAULT_PORTS[scheme] else "")


def registration_origins(reg: LtiRegistration) -> tuple[str, ...]:
    """The origins of a registration's ``issuer`` and ``auth_login_url`` (deduplicated, in that order)."""
    return _unique(origin(u) for u in (reg.issuer, reg.auth_login_url))


def launch_origins(claims: dict) -> tuple[str, ...]:
    """Origins a validated launch names for the LMS page around the tool: its ``launch_presentation``
    ``return_url`` and ``tool_platform`` ``url`` claims (LTI 1.3 Core sections 5.4.4 and 5.4.5)."""
    base = "https://purl.imsglobal.org/spec/lti/claim/"
    presentation = claims.get(base + "launch_presentation")
    platform = claims.get(base + "tool_platform")
    urls = [
        presentation.get("return_url") if isinstance(presentation, dict) else None,
        platform.get("url") if isinstance(platform, dict) else None,
    ]
    return _unique(origin(u) if isinstance(u, str) else None for u in urls)


def policy(origins: Iterable[str]) -> str:
    """The header value: ``frame-ancestors <origins>``, or ``frame-ancestors 'none'`` without any."""
    found = _unique(origins)
    return "frame-ancestors " + (" ".join(found) if found else NONE)


def _unique(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))


@dataclass(frozen=True)
class _Entry:
    public_id: str
    issuer: str
    client_id: str
    origins: tuple[str, ...]


class OriginCache:
    """The active registrations' origins of one app, read from the database at most every :data:`TTL`
    seconds (thread-safe; one per app and process)."""

    def __init__(self, ctx: HubContext, ttl: float = TTL):
        self._ctx, self._ttl = ctx, ttl
        self._lock = threading.Lock()
        self._entries: tuple[_Entry, ...] = ()
        self._loaded_at = float("-inf")

    def _load(self) -> tuple[_Entry, ...]:
        with self._ctx.db.read_scope() as session:
            rows = session.scalars(select(LtiRegistration).where(LtiRegistration.status == ACTIVE)).all()
            entries = tuple(_Entry(r.public_id, r.issuer, r.client_id, registration_origins(r)) for r in rows)
        self._entries, self._loaded_at = entries, time.monotonic()
        return entries

    def _current(self, *, refresh_after: float | None = None) -> tuple[_Entry, ...]:
        with self._lock:
            age = time.monotonic() - self._loaded_at
            if age > self._ttl or (refresh_after is not None and age > refresh_after):
                return self._load()
            return self._entries

    def forget(self) -> None:
        """Read the registrations again on the next use (after a registration changed)."""
        with self._lock:
            self._loaded_at = float("-inf")

    def all_active(self) -> tuple[str, ...]:
        """The origins of every active registration."""
        return _unique(o for e in self._current() for o in e.origins)

    def _find(self, match, *, single: bool = False) -> tuple[str, ...]:
        for entries in (self._current(), self._current(refresh_after=MISS_INTERVAL)):
            found = [e for e in entries if match(e)]
            if found and (len(found) == 1 or not single):
                return _unique(o for e in found for o in e.origins)
        return ()

    def of_registration(self, public_id: str) -> tuple[str, ...]:
        """The origins of one active registration (empty when it is unknown or not active)."""
        return self._find(lambda e: e.public_id == public_id)

    def of_platform(self, issuer: str, client_id: str | None) -> tuple[str, ...]:
        """The origins of the active registration of (``issuer``, ``client_id``); with no client id, of
        the issuer's only active registration (as the OIDC login finds it). Empty when unknown."""
        return self._find(lambda e: e.issuer == issuer and client_id in (None, e.client_id), single=True)


def cache(app) -> OriginCache:
    """The app's :class:`OriginCache` (made on first use)."""
    found = app.extensions.get(_EXTENSION)
    if found is None:
        found = app.extensions[_EXTENSION] = OriginCache(app.extensions["hub"])
    return found


def forget(app) -> None:
    """Drop ``app``'s kept origins: call after committing a change of a registration's status or URLs."""
    cache(app).forget()


def forget_after_commit(session, app) -> None:
    """:func:`forget` ``app``'s kept origins once ``session``'s transaction (a change of a registration's
    status or URLs) has committed at the request boundary; never if it rolls back."""
    after_commit(session, forget, app)
