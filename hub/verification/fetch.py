"""Every download the verifier makes: through the hub's address guard (:mod:`hub.netguard`), with size,
time and count limits, redirects followed only to addresses the guard allows, and a small cache.

A badge names URLs a stranger chose (assertion, badge class, issuer, keys, DID documents, status
lists), so each one is checked like an LTI Dynamic Registration URL: http(s) only, every address of the
host public unless ``allow_private`` (``HUB_VERIFY_ALLOW_PRIVATE_HOSTS``, development and tests), proxies
from the environment ignored. On top of that:

- at most :attr:`Fetcher.max_bytes` of body (``Content-Length`` checked first, then counted while
  reading); compressed answers are refused (``Accept-Encoding: identity``), so no gzip bomb;
- one download takes at most :attr:`Fetcher.timeout` seconds from connect to last byte, however slowly
  the server drips (the body is read with ``read1`` under a deadline; each socket read waits at most a
  third of the limit);
- at most :data:`MAX_REDIRECTS` redirects, each target checked by the guard again;
- at most :data:`MAX_FETCHES` downloads per verification (a badge cannot make the hub crawl);
- answers with status 200 are cached for :data:`CACHE_SECONDS` (:data:`CACHE_SIZE` entries, process memory).

Failures are :class:`FetchError` with a translatable reason and a ``code``.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests

from hub.i18n import lazy as _l
from hub.i18n import number
from hub.netguard import BlockedAddress, check_url, guarded_session

log = logging.getLogger(__name__)

MAX_REDIRECTS = 3
MAX_FETCHES = 20
CACHE_SECONDS = 300
CACHE_SIZE = 128
ACCEPT = "application/ld+json, application/json, application/vc+ld+json, application/did+json, */*;q=0.5"


class FetchError(Exception):
    """A download was refused or failed. ``reason`` is a lazy text, ``code`` a stable slug
    (``blocked-address``, ``too-large``, ``timeout``, ``too-many-redirects``, ``http-error``, ...)."""

    def __init__(self, reason, code: str, status: int | None = None):
        super().__init__(str(code))
        self.reason, self.code, self.status = reason, code, status


@dataclass(frozen=True)
class Fetched:
    """A download: the final ``url``, HTTP ``status``, ``content_type`` (lower case, no parameters) and
    ``body`` bytes."""

    url: str
    status: int
    content_type: str
    body: bytes

    def json(self):
        """The body parsed as JSON.

        Raises:
            FetchError: ``not-json``.
        """
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise FetchError(_l("%(url)s did not answer JSON", url=self.url), "not-json", self.status) from None


class _Cache:
    def __init__(self):
        self._items: OrderedDict[str, tuple[float, Fetched]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str) -> Fetched | None:
        with self._lock:
            item = self._items.get(url)
            if item is None or item[0] < time.monotonic():
                self._items.pop(url, None)
                return None
            self._items.move_to_end(url)
            return item[1]

    def put(self, url: str, value: Fetched) -> None:
        with self._lock:
            self._items[url] = (time.monotonic() + CACHE_SECONDS, value)
            self._items.move_to_end(url)
            while len(self._items) > CACHE_SIZE:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


#: The process-wide cache of 200 answers (shared by every :class:`Fetcher` that uses it).
CACHE = _Cache()


class Fetcher:
    """Downloads for one verification (``with Fetcher(...) as f: f.get(url)``).

    Args:
        max_bytes: largest body accepted, bytes.
        timeout: longest one download may take, seconds (connect to last byte, redirects included).
        allow_private: let the guard connect to loopback and private addresses (tests, development).
        use_cache: answer from :data:`CACHE` (off for re-verification, which wants fresh status).
    """

    def __init__(self, *, max_bytes: int, timeout: float, allow_private: bool = False, use_cache: bool = True):
        self.max_bytes, self.timeout, self.allow_private, self.use_cache = max_bytes, timeout, allow_private, use_cache
        self.count = 0
        self._http = guarded_session(allow_private=allow_private)

    @classmethod
    def from_settings(cls, settings, *, use_cache: bool = True) -> Fetcher:
        """A fetcher with the ``HUB_VERIFY_*`` limits of ``settings``."""
        return cls(
            max_bytes=settings.verify_max_bytes,
            timeout=settings.verify_fetch_timeout_seconds,
            allow_private=settings.verify_allow_private_hosts,
            use_cache=use_cache,
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get(self, url: str, *, ok=(200,)) -> Fetched:
        """GET ``url`` (redirects followed through the guard); returns the answer when its status is in
        ``ok``.

        Raises:
            FetchError: refused by the guard (``blocked-address``, ``not-http``), no answer in time
                (``timeout``), too big (``too-large``), compressed (``compressed``), too many redirects or
                downloads, unreachable (``unreachable``), or a status not in ``ok`` (``http-error``).
        """
        if self.use_cache and (hit := CACHE.get(url)) is not None and hit.status in ok:
            return hit
        deadline = time.monotonic() + self.timeout
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._one(current, deadline)
            if answer.status in (301, 302, 303, 307, 308):
                location = answer.content_type  # _one puts Location here for redirects
                current = urljoin(current, location)
                continue
            if answer.status not in ok:
                raise FetchError(
                    _l("%(url)s answered HTTP %(status)s", url=url, status=answer.status), "http-error", answer.status
                )
            if self.use_cache and answer.status == 200:
                CACHE.put(url, answer)
            return answer
        log.info("verifier: too many redirects from %s", url)
        raise FetchError(_l("%(url)s redirects more than %(n)s times", url=url, n=MAX_REDIRECTS), "too-many-redirects")

    def _one(self, url: str, deadline: float) -> Fetched:
        self.count += 1
        if self.count > MAX_FETCHES:
            raise FetchError(_l("the badge needs more than %(n)s downloads", n=MAX_FETCHES), "too-many-fetches")
        try:
            check_url(url, allow_private=self.allow_private)
        except BlockedAddress as exc:
            log.warning("verifier refused %s: %s", url, exc)
            code = "not-http" if exc.address is None else "blocked-address"
            raise FetchError(_l("refused to fetch %(url)s: %(why)s", url=url, why=exc.why), code) from None
        except (socket.gaierror, UnicodeError):
            raise FetchError(_l("the host of %(url)s is not known", url=url), "unreachable") from None
        wait = max(self.timeout / 3, 0.1)
        try:
            resp = self._http.get(
                url,
                headers={"Accept": ACCEPT, "Accept-Encoding": "identity"},
                timeout=(wait, wait),
                stream=True,
            )
        except BlockedAddress as exc:
            log.warning("verifier refused %s: %s", url, exc)
            raise FetchError(_l("refused to fetch %(url)s: %(why)s", url=url, why=exc.why), "blocked-address") from None
        except requests.Timeout:
            log.info("verifier: %s timed out", url)
            raise FetchError(_l("%(url)s did not answer in time", url=url), "timeout") from None
        except requests.RequestException as exc:
            log.info("verifier: %s unreachable: %r", url, exc)
            raise FetchError(_l("%(url)s cannot be reached", url=url), "unreachable") from None
        with resp:
            if resp.status_code in (301, 302, 303, 307, 308):
                location = resp.headers.get("Location")
                if not location:
                    raise FetchError(_l("%(url)s redirects nowhere", url=url), "http-error", resp.status_code)
                return Fetched(url, resp.status_code, location, b"")
            body = self._read(url, resp, wait, deadline)
        ctype = (resp.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        return Fetched(url, resp.status_code, ctype, body)

    def _read(self, url: str, resp: requests.Response, wait: float, deadline: float) -> bytes:
        encoding = (resp.headers.get("Content-Encoding") or "identity").lower()
        if encoding not in ("identity", ""):
            raise FetchError(_l("%(url)s answered compressed data", url=url), "compressed")
        too_large = FetchError(
            _l("%(url)s answered more than %(limit)s bytes", url=url, limit=number(self.max_bytes)), "too-large"
        )
        declared = resp.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            log.info("verifier: %s declares %s bytes", url, declared)
            raise too_large
        chunks, size = [], 0
        try:
            while True:
                if time.monotonic() + wait > deadline:
                    log.info("verifier: %s too slow, cut off", url)
                    raise FetchError(_l("%(url)s did not answer in time", url=url), "timeout")
                chunk = resp.raw.read1(65536, decode_content=False)
                if not chunk:
                    break
                size += len(chunk)
                if size > self.max_bytes:
                    log.info("verifier: %s sent more than %s bytes", url, self.max_bytes)
                    raise too_large
                chunks.append(chunk)
        except FetchError:
            raise
        except (requests.RequestException, OSError, ValueError) as exc:
            if "timed out" in str(exc).lower():
                raise FetchError(_l("%(url)s did not answer in time", url=url), "timeout") from None
            raise FetchError(_l("%(url)s cannot be reached", url=url), "unreachable") from None
        except Exception as exc:  # urllib3's own ReadTimeoutError / ProtocolError
            name = type(exc).__name__
            if "Timeout" in name:
                raise FetchError(_l("%(url)s did not answer in time", url=url), "timeout") from None
            raise FetchError(_l("%(url)s cannot be reached", url=url), "unreachable") from None
        return b"".join(chunks)


def is_http_url(value: str) -> bool:
    """Whether ``value`` looks like an http(s) URL (no whitespace, a host)."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not any(c.isspace() for c in value.strip())
