"""``/lti/register`` is open to anyone, so it must not become a way to make the hub call any address:
non-public addresses are refused (before any connection) unless ``HUB_LTI_ALLOW_PRIVATE_HOSTS``, every
address a name resolves to is checked and the connection goes to a checked one (DNS rebinding),
redirects are not followed, the platform's registration endpoint and the URLs the hub calls later are
checked too; requests are rate-limited per client address and pending registrations are capped.

The hub runs over real HTTP next to pytest-httpserver; where a test needs a "public" platform, the
address predicate is narrowed so that exactly ``127.0.0.1`` stands for the internet."""

from __future__ import annotations

import socket

import pytest
import requests

from hub import netguard
from hub.netguard import BlockedAddress, check_url, guarded_session, is_public_address

from .conftest import ADMIN

HTML = {"Accept": "text/html", "Accept-Language": "en"}


def _register(hub: str, config_url: str, token: str = "tok") -> requests.Response:
    return requests.get(
        f"{hub}/lti/register",
        params={"openid_configuration": config_url, "registration_token": token},
        headers=HTML,
        timeout=20,
    )


def _registrations(hub: str) -> list[dict]:
    return requests.get(f"{hub}/api/v1/lti/registrations", headers=ADMIN, timeout=10).json()["items"]


def _reasons(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "connectors.lti.views")


NOT_PUBLIC = [
    "http://127.0.0.1:{port}/x",
    "http://localhost:{port}/x",
    "http://[::1]:{port}/x",
    "https://127.0.0.1:{port}/x",
    "https://10.1.2.3/.well-known/openid-configuration",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fd00::1]/x",
    "https://[::ffff:127.0.0.1]/x",
    "https://0.0.0.0/x",
]
NOT_HTTPS = ["http://moodle.example.edu/x", "file:///etc/passwd", "javascript:alert(1)", "gopher://127.0.0.1:70/"]


@pytest.mark.parametrize(
    ("urls", "text"), [(NOT_PUBLIC, "public internet addresses"), (NOT_HTTPS, "could not register")]
)
def test_loopback_private_and_non_https_addresses_are_refused_before_any_connection(
    strict_hub, httpserver, caplog, urls, text
):
    """(At most 10 tries per test: the rate limit counts them.)"""
    _app, hub = strict_hub
    httpserver.expect_request("/x").respond_with_json({"issuer": f"http://127.0.0.1:{httpserver.port}"})
    for url in urls:
        r = _register(hub, url.format(port=httpserver.port))
        assert r.status_code == 400, (url, r.status_code)
        assert text in r.text, (url, r.text[:300])
    assert httpserver.log == []  # nothing reached the local server
    assert _registrations(hub) == []
    reasons = _reasons(caplog)
    if urls is NOT_PUBLIC:
        assert "refused a non-public address" in reasons and "(169.254.169.254)" in reasons
    else:
        assert "is not an https URL" in reasons


@pytest.fixture
def loopback_is_the_internet(monkeypatch):
    """Let exactly 127.0.0.1 count as a public address (the test's stand-in for a platform on the
    internet); every other loopback and private address stays refused."""
    real = netguard.is_public_address
    monkeypatch.setattr(netguard, "is_public_address", lambda a: str(a) == "127.0.0.1" or real(a))


def _config(here: str, **changes) -> dict:
    return {
        "issuer": here,
        "authorization_endpoint": f"{here}/auth",
        "token_endpoint": f"{here}/token",
        "jwks_uri": f"{here}/jwks",
        "registration_endpoint": f"{here}/register",
        **changes,
    }


@pytest.mark.parametrize(
    "endpoint",
    ["registration_endpoint", "token_endpoint", "jwks_uri"],
)
def test_the_platforms_other_urls_are_guarded_too(strict_hub, httpserver, loopback_is_the_internet, caplog, endpoint):
    """The configuration may point the registration call (with the registration token), or the URLs
    the hub calls later, at an internal address: refused, the registration token is not sent."""
    _app, hub = strict_hub
    here = f"http://127.0.0.1:{httpserver.port}"
    inside = f"http://127.0.0.2:{httpserver.port}/x" if endpoint == "registration_endpoint" else "https://10.0.0.7/x"
    httpserver.expect_request("/config").respond_with_json(_config(here, **{endpoint: inside}))
    httpserver.expect_request("/register", method="POST").respond_with_json({"client_id": "c-1"})
    r = _register(hub, f"{here}/config")
    assert r.status_code == 400 and "public internet addresses" in r.text
    assert [req.path for req, _resp in httpserver.log] == ["/config"]  # the POST never happened
    assert "refused a non-public address" in _reasons(caplog)
    assert _registrations(hub) == []


def test_a_public_platform_registers_and_a_redirect_is_not_followed(
    strict_hub, httpserver, loopback_is_the_internet, caplog
):
    _app, hub = strict_hub
    here = f"http://127.0.0.1:{httpserver.port}"
    httpserver.expect_request("/moved").respond_with_data("", status=302, headers={"Location": f"{here}/config"})
    r = _register(hub, f"{here}/moved")
    assert r.status_code == 400 and "could not register" in r.text
    assert "redirects are not followed" in _reasons(caplog)
    assert [req.path for req, _resp in httpserver.log] == ["/moved"]

    httpserver.expect_request("/config").respond_with_json(_config(here))
    httpserver.expect_request("/register", method="POST", headers={"Authorization": "Bearer tok"}).respond_with_json(
        {"client_id": "c-1", "https://purl.imsglobal.org/spec/lti-tool-configuration": {"deployment_id": "1"}}
    )
    assert _register(hub, f"{here}/config").status_code == 200
    (reg,) = _registrations(hub)
    assert reg["status"] == "pending" and reg["client_id"] == "c-1" and reg["key_set_url"] == f"{here}/jwks"


def test_an_oversized_configuration_is_not_read(hub_server, httpserver, caplog):
    _app, hub = hub_server
    httpserver.expect_request("/config").respond_with_data(b"{" + b" " * (2 * 1024 * 1024) + b"}")
    r = _register(hub, httpserver.url_for("/config"))
    assert r.status_code == 400 and "larger than" in _reasons(caplog)


# ---- the guard itself --------------------------------------------------------------------------------------


def _answers(*addresses: str):
    """A resolver giving ``addresses`` (one list per call; the last one repeats), as getaddrinfo does."""
    calls = []

    def resolve(host, port, *args, **kwargs):
        chosen = addresses[min(len(calls), len(addresses) - 1)]
        calls.append(host)
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in chosen.split(",")
        ]

    return resolve, calls


def test_every_resolved_address_is_checked(monkeypatch):
    resolve, _calls = _answers("93.184.216.34,10.0.0.5")
    monkeypatch.setattr(netguard, "resolve", resolve)
    with pytest.raises(BlockedAddress) as exc:
        check_url("https://platform.example/config")
    assert exc.value.address == "10.0.0.5"
    check_url("https://platform.example/config", allow_private=True)  # the setting: no check


def test_dns_rebinding_is_refused_at_connect_time(monkeypatch, httpserver):
    """The first answer is public, the one when connecting is loopback: the connection is refused, as
    the guarded session resolves once and connects to what it checked."""
    httpserver.expect_request("/config").respond_with_json({})
    resolve, calls = _answers("93.184.216.34", "127.0.0.1")
    monkeypatch.setattr(netguard, "resolve", resolve)
    url = f"http://rebind.example:{httpserver.port}/config"
    check_url(url)  # looks public
    with guarded_session() as http, pytest.raises(BlockedAddress):
        http.get(url, timeout=5)
    assert calls == ["rebind.example", "rebind.example"] and httpserver.log == []


def test_the_connection_goes_to_the_checked_address(monkeypatch, httpserver, loopback_is_the_internet):
    """A name the system cannot resolve reaches the server at the address the guard resolved and
    checked; the Host header (and for https, SNI and the certificate check) keep the name."""
    httpserver.expect_request("/config", headers={"Host": f"platform.test:{httpserver.port}"}).respond_with_json(
        {"ok": True}
    )
    resolve, calls = _answers("127.0.0.1")
    monkeypatch.setattr(netguard, "resolve", resolve)
    with guarded_session() as http:
        assert http.get(f"http://platform.test:{httpserver.port}/config", timeout=5).json() == {"ok": True}
    assert calls == ["platform.test"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("::", False),
        ("fe80::1%eth0", False),
        ("fd12:3456::1", False),
        ("ff02::1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
    ],
)
def test_public_addresses(address, public):
    assert is_public_address(address) is public


# ---- rate limit and the cap of pending registrations ---------------------------------------------------------


def test_registration_attempts_are_rate_limited_per_address(strict_hub):
    _app, hub = strict_hub
    for _ in range(10):
        assert requests.get(f"{hub}/lti/register", headers=HTML, timeout=10).status_code == 422
    r = requests.get(f"{hub}/lti/register", params={"openid_configuration": "https://x.example/"}, headers=HTML)
    assert r.status_code == 429 and "Too many registration attempts from your address" in r.text
    assert int(r.headers["Retry-After"]) > 0
    pl = requests.get(f"{hub}/lti/register", headers={"Accept-Language": "pl", "Accept": "application/json"})
    assert pl.status_code == 429 and "Zbyt wiele prób rejestracji" in pl.json()["detail"]
    assert requests.get(f"{hub}/lti/jwks", timeout=10).status_code == 200  # the tool's other pages are not limited


def test_pending_registrations_are_capped(hub_server, bare_platform):
    from connectors.lti.dynreg import MAX_PENDING
    from connectors.lti.models import PENDING
    from connectors.lti.registrations import create_registration

    app, hub = hub_server
    ctx = app.extensions["hub"]
    with ctx.db.session_scope() as s:
        for i in range(MAX_PENDING):
            issuer = f"https://p{i}.example.edu"
            create_registration(
                s,
                ctx,
                issuer=issuer,
                client_id="c",
                auth_login_url=f"{issuer}/auth",
                auth_token_url=f"{issuer}/token",
                key_set_url=f"{issuer}/jwks",
                status=PENDING,
            )
    r = _register(hub, f"{bare_platform.base}/.well-known/openid-configuration", bare_platform.registration_token)
    assert r.status_code == 429
    assert "Too many platforms are waiting for approval in Badge Hub (50)" in r.text
    assert bare_platform.registrations == []  # the platform was not even asked
    pending = requests.get(f"{hub}/api/v1/lti/registrations", params={"status": "pending", "limit": 1}, headers=ADMIN)
    first = pending.json()["items"][0]["id"]
    assert requests.delete(f"{hub}/api/v1/lti/registrations/{first}", headers=ADMIN).status_code == 204
    r = _register(hub, f"{bare_platform.base}/.well-known/openid-configuration", bare_platform.registration_token)
    assert r.status_code == 200, r.text  # room again after a rejection
