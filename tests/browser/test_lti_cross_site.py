"""LTI launches with the hub on another site than the LMS, in headless Chromium with third-party cookies
blocked (``--test-third-party-cookie-phaseout``).

The Moodle-shaped test platform serves its course page on ``https://platform.test:<port>`` and the hub
runs on ``https://hub.test:<port>``, both over TLS with a certificate made for this run by a throwaway CA
(:mod:`cryptography`), the names mapped to 127.0.0.1 by ``--host-resolver-rules``. The course page shows
the activity in an iframe of Moodle's ``/mod/lti/launch.php?id=<cmid>``, which posts the OIDC login to
the hub inside the frame. The platform's services (JWKS) answer on plain 127.0.0.1, where the hub's
server-side calls go.

- The hub's state cookie is ``Partitioned`` (CHIPS): the launch completes inside the frame.
- A browser keeping no cookie of the hub in the frame at all (as Safari does, or Chromium told to block
  the site's cookies; emulated by dropping the ``Set-Cookie`` of the hub's login in the frame): with the
  platform's storage (``lti_storage_target``, ``lti.put_data`` / ``lti.get_data``) the launch still
  completes inside the frame; without it, the "new window" link opens Moodle's launch page, which starts
  a fresh OIDC login with a new one-time hint (the used one is never sent again; the platform answers
  it with 404, as Moodle does).
"""

from __future__ import annotations

import datetime
import ipaddress
import logging
import socket
import ssl
import threading
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from hub import create_app
from tests.browser.test_console_flow import CHROMIUM
from tests.connectors.lti.conftest import ADMIN, make_badges, make_members
from tests.connectors.lti.platform import Platform, Served, create_platform_app

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason=f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)",
)
HOSTS = ("platform.test", "hub.test")


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway CA and a server certificate for :data:`HOSTS` signed by it: (cert chain, key) PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Badge Hub test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names = [x509.DNSName(h) for h in HOSTS] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTS[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    chain, key_file = directory / "chain.pem", directory / "key.pem"
    chain.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return chain, key_file


@pytest.fixture
def certificate(tmp_path) -> tuple[Path, Path]:
    return _certificate(tmp_path)


@pytest.fixture
def tls(certificate) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def sites(settings, tls, certificate):
    """The hub on https://hub.test:<port>, the platform's pages on https://platform.test:<port> and its
    services on http://127.0.0.1:<port>; the platform registered in the hub and assigned to an issuer.
    Yields ``(app, hub_url, platform, ca_file)`` (``ca_file``: the CA to check the servers' TLS with)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hub = f"https://hub.test:{port}"
    app = create_app(settings.with_(base_url=hub, lti_allow_private_hosts=True))
    server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=tls)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    platform = Platform(tool_base=hub)
    platform_app = create_platform_app(platform)
    pages = Served(platform_app, ssl_context=tls, host="platform.test")
    services = Served(platform_app)
    platform.base, platform.service_base = pages.url, services.url
    platform.make_registration()
    make_members(platform)
    badges = make_badges(app.extensions["hub"])
    r = requests.post(
        f"https://127.0.0.1:{port}/api/v1/lti/registrations",
        json=platform.hub_registration(badge_issuer=badges.issuer),
        headers={**ADMIN, "Host": f"hub.test:{port}"},
        verify=str(certificate[0]),
        timeout=10,
    )
    assert r.status_code == 201, r.text
    yield app, hub, platform, str(certificate[0])
    pages.stop()
    services.stop()
    server.shutdown()
    app.extensions["hub.jobs"].shutdown()
    app.extensions["hub"].db.dispose()


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--test-third-party-cookie-phaseout",  # third-party cookies blocked, as Chromium 156 does
                "--host-resolver-rules=" + ", ".join(f"MAP {h} 127.0.0.1" for h in HOSTS),
                "--disable-features=LocalNetworkAccessChecks",
            ],
        )
        context = browser.new_context(ignore_https_errors=True)  # the throwaway CA is not trusted
        yield context
        context.close()
        browser.close()


def _drop_hub_cookies_in_frames(context, hub: str, ca: str) -> list[str]:
    """Emulate a browser that keeps no cookie of the hub inside the LMS frame, partitioned or not: the
    hub's login answers in a frame reach the page without their ``Set-Cookie``. Returns the URLs of the
    answers changed."""
    from playwright.sync_api import Error as PlaywrightError

    dropped: list[str] = []

    def handle(route):
        req = route.request
        try:
            in_frame = req.frame.parent_frame is not None
        except PlaywrightError:  # the first navigation of a new window, before its frame exists
            in_frame = False
        if not in_frame:  # a top-level window keeps its first-party cookies
            route.continue_()
            return
        headers = {k: v for k, v in req.all_headers().items() if k.lower() not in ("host", "content-length")}
        answer = requests.request(
            req.method,
            req.url.replace("hub.test", "127.0.0.1", 1),
            data=req.post_data_buffer,
            headers={**headers, "Host": req.url.split("/")[2]},
            allow_redirects=False,
            verify=ca,
            timeout=20,
        )
        assert "set-cookie" in {k.lower() for k in answer.headers}
        kept = {k: v for k, v in answer.headers.items() if k.lower() not in ("set-cookie", "content-length")}
        dropped.append(req.url)
        route.fulfill(status=answer.status_code, headers=kept, body=answer.content)

    context.route(f"{hub}/lti/login*", handle)
    return dropped


def _open_course(context, platform: Platform, *, storage: bool = False):
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.goto(f"{platform.base}/course/view.php?id=2&user=4" + ("&storage=1" if storage else ""))
    return page, page.frame_locator("#contentframe"), messages


def _heading(where) -> str:
    """The first heading of the page (or frame) once one shows: the learner's page or a refusal."""
    heading = where.locator("h1").first
    heading.wait_for()
    return heading.inner_text()


def test_partitioned_state_cookie_completes_the_launch_in_the_frame(sites, chromium, caplog):
    _app, hub, platform, ca = sites
    caplog.set_level(logging.INFO, logger="connectors.lti")
    page, frame, messages = _open_course(chromium, platform)
    assert _heading(frame) == "My badges", messages
    # The browser kept the state cookie in the partition of the LMS's site, the only place it is sent.
    state = [c for c in chromium.cookies() if c["name"].startswith("lti1p3-")]
    assert state and all(c["domain"] == "hub.test" and c["sameSite"] == "None" and c["secure"] for c in state)
    assert {c.get("partitionKey") for c in state} == {"https://platform.test"}, state
    assert not any("without its state cookie" in r.getMessage() for r in caplog.records)
    assert len(platform.auth_hints) == 1 and platform.refused_hints == []


def test_platform_storage_completes_the_launch_when_no_cookie_is_kept(sites, chromium, caplog):
    _app, hub, platform, ca = sites
    caplog.set_level(logging.INFO, logger="connectors.lti")
    dropped = _drop_hub_cookies_in_frames(chromium, hub, ca)
    page, frame, messages = _open_course(chromium, platform, storage=True)
    assert _heading(frame) == "My badges", messages
    assert dropped and all("/lti/login" in u for u in dropped)
    seen = page.evaluate("window.ltiMessages")
    subjects = [(m["subject"], m["origin"]) for m in seen]
    assert ("lti.put_data", hub) in subjects and ("lti.get_data", hub) in subjects, seen
    assert any("confirmed by platform storage" in r.getMessage() for r in caplog.records)
    assert len(platform.auth_hints) == 1 and platform.refused_hints == []


def test_new_window_starts_a_fresh_launch_at_the_platform(sites, chromium, caplog):
    _app, hub, platform, ca = sites
    _drop_hub_cookies_in_frames(chromium, hub, ca)
    page, frame, messages = _open_course(chromium, platform)
    link = frame.get_by_role("link", name="Open Badge Hub in a new window")
    with page.expect_popup() as popup_info:
        link.click()
    popup = popup_info.value
    assert _heading(popup) == "My badges", platform.refused_hints
    assert popup.url.startswith(f"{hub}/lti/launch")
    assert link.get_attribute("href") == f"{platform.base}/mod/lti/launch.php?id={platform.cmid}"
    assert link.get_attribute("target") == "_blank"
    # Two logins, each with its own one-time hint; the used one was never sent again.
    assert len(platform.auth_hints) == 2 and len(set(platform.auth_hints)) == 2, platform.auth_hints
    assert platform.refused_hints == []
