"""``HUB_TRUSTED_PROXIES``: which peers' X-Forwarded-For/-Proto/-Host the hub believes (hub.web.proxies)."""

from __future__ import annotations

import pytest
from flask import Flask, request

from hub.errors import ConfigurationError
from hub.settings import _trusted_proxies
from hub.web.proxies import wrap

SPOOF = {
    "X-Forwarded-For": "203.0.113.9, 10.0.0.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "badges.example.org",
}


def _seen(trusted, peer: str, headers: dict) -> tuple[str, str, str]:
    app = Flask(__name__)

    @app.get("/")
    def echo():
        return f"{request.remote_addr}|{request.scheme}|{request.host}"

    app.wsgi_app = wrap(app.wsgi_app, trusted)
    body = app.test_client().get("/", headers=headers, environ_base={"REMOTE_ADDR": peer}).get_data(as_text=True)
    return tuple(body.split("|"))


def test_by_default_no_header_is_believed():
    assert _seen(0, "198.51.100.1", SPOOF) == ("198.51.100.1", "http", "localhost")


def test_a_count_takes_that_many_hops_from_the_right():
    assert _seen(1, "10.0.0.1", SPOOF) == ("10.0.0.7", "https", "badges.example.org")
    assert _seen(2, "10.0.0.1", SPOOF)[0] == "203.0.113.9"


def test_listed_proxies_only_and_the_right_most_untrusted_address_is_the_client():
    trusted = _trusted_proxies("10.0.0.0/8, ::1")
    assert trusted == ("10.0.0.0/8", "::1/128")
    # From a listed proxy: skip the trusted hops (10.0.0.7) to the client.
    assert _seen(trusted, "10.0.0.1", SPOOF) == ("203.0.113.9", "https", "badges.example.org")
    # From anyone else: the headers are ignored.
    assert _seen(trusted, "198.51.100.1", SPOOF) == ("198.51.100.1", "http", "localhost")
    # A client claiming an address in front of the proxy cannot pass itself off as the proxy's peer.
    assert _seen(trusted, "10.0.0.1", {"X-Forwarded-For": "1.2.3.4, 198.51.100.1"})[0] == "198.51.100.1"


def test_setting_values():
    assert _trusted_proxies(None) == 0 and _trusted_proxies("") == 0 and _trusted_proxies("2") == 2
    with pytest.raises(ConfigurationError, match="HUB_TRUSTED_PROXIES"):
        _trusted_proxies("proxy.local")
