"""Outbound HTTP to addresses a stranger chose (SSRF protection for LTI Dynamic Registration, Moodle
sites, outgoing webhooks and the badge verifier, :mod:`hub.verification`).

Anyone may open ``/lti/register?openid_configuration=<url>``, so the hub must not call any URL it is
given: a request to ``http://127.0.0.1:5432/``, ``http://169.254.169.254/`` (cloud metadata) or a host
on the internal network would let a stranger probe or use services only the hub can reach
(https://owasp.org/www-community/attacks/Server_Side_Request_Forgery).

:func:`guarded_session` gives a ``requests.Session`` whose every connection resolves the host itself,
checks *every* address it resolves to with :func:`is_public_address` and connects to one of those
checked addresses (never resolving twice, so a DNS answer that changes between check and connect, "DNS
rebinding", cannot slip through); redirects are not followed and proxies from the environment are not
used (a proxy would make the check meaningless). :func:`check_url` runs the same check up front, for a
readable refusal before any request. ``allow_private=True`` (``HUB_LTI_ALLOW_PRIVATE_HOSTS``, for
development) turns the address checks off; the scheme must be http(s) either way.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection

#: IPv6 prefixes that embed an IPv4 address the packet may end up at (NAT64, RFC 6052).
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: Host names that always mean this computer (RFC 6761 section 6.3).
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
#: The resolver, ``socket.getaddrinfo``'s signature (tests put a DNS server's changing answers here).
resolve = socket.getaddrinfo


class BlockedAddress(Exception):
    """``host`` resolves to ``address``, which is not a public address (or the URL is not http(s)).

    Deliberately not an ``OSError``: urllib3 would retry and wrap it; this way it reaches the caller as is.
    """

    def __init__(self, host: str, address: str | None, why: str):
        super().__init__(f"{host} ({address}): {why}" if address else f"{host}: {why}")
        self.host, self.address, self.why = host, address, why


def is_public_address(value: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an IPv4 or IPv6 address is a public (globally routed unicast) one: not loopback, private
    (RFC 1918, RFC 4193 unique local), shared (RFC 6598), link-local, multicast, reserved or unspecified.
    IPv6 addresses embedding an IPv4 one (IPv4-mapped, 6to4, Teredo, NAT64) are judged by that one too.
    A scope suffix (``fe80::1%eth0``) is allowed in ``value``."""
    ip = ipaddress.ip_address(value) if isinstance(value, str) else value
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(ip.packed)  # drop a scope id
        embedded = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
        if ip in _NAT64:
            embedded.append(ipaddress.IPv4Address(ip.packed[-4:]))
        if any(v4 is not None and not is_public_address(v4) for v4 in embedded):
            return False
        if ip.ipv4_mapped is not None:
            return True  # judged by its IPv4 address above (::ffff:0:0/96 itself counts as reserved)
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def is_local_host(host: str | None) -> bool:
    """Whether ``host`` (a URL's host name, without brackets) names this computer: ``localhost``,
    ``*.localhost``, or a loopback address (``127.0.0.0/8``, ``::1``). Decided from the name alone."""
    host = (host or "").lower().rstrip(".")
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_addresses(host: str, port: int) -> list[str]:
    """Resolve ``host`` and return its addresses (in the resolver's order, no repeats), every one checked.

    Raises:
        BlockedAddress: one of the addresses is not public (:func:`is_public_address`).
        socket.gaierror: the name does not resolve.
    """
    found: list[str] = []
    for *_rest, sockaddr in resolve(host, port, type=socket.SOCK_STREAM):
        address = str(sockaddr[0])
        if not is_public_address(address):
            raise BlockedAddress(host, address, "not a public address")
        if address not in found:
            found.append(address)
    return found


def check_url(url: str, *, allow_private: bool = False) -> None:
    """Refuse ``url`` unless it is http(s) with a host and (unless ``allow_private``) every address of
    that host is public. Resolves the name once; :func:`guarded_session` checks again when it connects.

    Raises:
        BlockedAddress: not http(s), no host, or a non-public address.
        socket.gaierror: the host name does not resolve.
    """
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:  # a port that is not a number, an unclosed IPv6 bracket
        raise BlockedAddress(url, None, "not a URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise BlockedAddress(url, None, "not an http(s) URL")
    if not allow_private:
        public_addresses(host, port or (443 if parts.scheme == "https" else 80))


# The mixin below runs on urllib3's connections; the type checker is told so (at run time: object).
if TYPE_CHECKING:
    _Connection = HTTPConnection
else:
    _Connection = object


class _PublicOnly(_Connection):
    """urllib3 connection mixin: resolve, check every address, connect to a checked one."""

    def _new_conn(self) -> socket.socket:
        try:
            addresses = public_addresses(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: OSError | None = None
        for address in addresses:
            try:
                return connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(self, f"Connection to {self.host} timed out") from exc
            except OSError as exc:
                error = exc
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _HTTPConnection(_PublicOnly, HTTPConnection):
    pass


class _HTTPSConnection(_PublicOnly, HTTPSConnection):
    """TLS still uses the host name (SNI, certificate check): only the TCP connection uses the address."""


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class _NoRedirects(requests.Session):
    def request(self, method, url, **kwargs):
        kwargs["allow_redirects"] = False
        return super().request(method, url, **kwargs)


def guarded_session(*, allow_private: bool = False) -> requests.Session:
    """A ``requests.Session`` for URLs a stranger chose: redirects are not followed (a 3xx answer is
    returned as it is), proxies from the environment are ignored, and unless ``allow_private`` every
    connection goes to a checked public address only (:class:`BlockedAddress` raised otherwise, before
    any byte is sent). Close it after use."""
    session = _NoRedirects()
    session.trust_env = False
    if not allow_private:
        adapter = _GuardedAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session


def guarded_pool(*, allow_private: bool = False, maxsize: int = 4):
    """A ``urllib3.PoolManager`` with the same guard as :func:`guarded_session` (every connection to a
    checked public address unless ``allow_private``; no proxies from the environment), for a sender of
    many small requests (outgoing webhooks) that needs less per-request work than ``requests``. Callers
    pass ``retries=False, redirect=False`` and a timeout on each request."""
    from urllib3 import PoolManager

    pool = PoolManager(maxsize=maxsize, retries=False)
    if not allow_private:
        pool.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
    return pool
