"""Which ``X-Forwarded-*`` headers to believe: only those set by the proxies the hub is told about.

``HUB_TRUSTED_PROXIES`` (:attr:`hub.settings.Settings.trusted_proxies`):

- unset / ``0``: no proxy; ``X-Forwarded-For``, ``-Proto`` and ``-Host`` are ignored and the client is the
  socket's peer (a client cannot pick its own address for the rate limits or the log).
- a number ``n``: every request passes ``n`` proxies; werkzeug's ``ProxyFix(x_for=n, x_proto=n,
  x_host=n)`` takes the n-th address from the right
  (https://werkzeug.palletsprojects.com/en/stable/middleware/proxy_fix/).
- addresses / CIDR networks: the headers count only when the peer is one of them; the client is the
  right-most ``X-Forwarded-For`` address that is not a trusted proxy (MDN, "X-Forwarded-For: selecting
  an IP address", https://developer.mozilla.org/en-US/docs/Web/HTTP/Reference/Headers/X-Forwarded-For).
  ``-Proto`` and ``-Host`` are the nearest trusted proxy's.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from werkzeug.middleware.proxy_fix import ProxyFix

__all__ = ["TrustedProxies", "wrap"]


def wrap(wsgi_app, trusted: int | tuple[str, ...]):
    """``wsgi_app`` behind the proxies named by ``trusted`` (see the module): unchanged for none, a
    ``ProxyFix`` for a count, a :class:`TrustedProxies` for addresses."""
    if not trusted:
        return wsgi_app
    if isinstance(trusted, int):
        return ProxyFix(wsgi_app, x_for=trusted, x_proto=trusted, x_host=trusted)
    return TrustedProxies(wsgi_app, trusted)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class TrustedProxies:
    """WSGI middleware believing ``X-Forwarded-*`` only from peers in ``networks`` (addresses or CIDR
    strings, IPv4 and IPv6). A request from any other peer keeps its ``REMOTE_ADDR``, scheme and host.
    The header parsing itself is werkzeug's ``ProxyFix``, told how many hops to trust per request."""

    def __init__(self, wsgi_app, networks: tuple[str, ...]):
        self.app = wsgi_app
        self.networks = tuple(ipaddress.ip_network(n, strict=False) for n in networks)

    def trusted(self, text: str | None) -> bool:
        """Whether ``text`` (an address as it appears in ``REMOTE_ADDR`` / ``X-Forwarded-For``) is a
        trusted proxy."""
        addr = _address(text or "")
        return addr is not None and any(addr in net for net in self.networks)

    @lru_cache(maxsize=16)  # noqa: B019 - one middleware per app; at most a few hop counts
    def _fix(self, hops: int) -> ProxyFix:
        return ProxyFix(self.app, x_for=hops, x_proto=1, x_host=1)

    def __call__(self, environ, start_response):
        if not self.trusted(environ.get("REMOTE_ADDR")):
            return self.app(environ, start_response)
        chain = [a.strip() for a in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
        hops = 1  # chain[-hops]: the right-most address that is not a trusted proxy (or the left-most)
        while hops < len(chain) and self.trusted(chain[-hops]):
            hops += 1
        return self._fix(hops)(environ, start_response)
