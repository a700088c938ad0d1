"""The LTI screens in a real browser (Playwright driving Debian's Chromium): the registrations screen with
the dynamic registration URL to copy, approving a deployment a refused launch left pending (the next
launch is accepted), the manual registration form's errors; axe-core checks and screenshots as in
``test_console_flow.py``. And Chromium itself enforcing ``frame-ancestors``: the registered platform's
page may frame the tool, a page of another origin may not."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_console_flow import CHROMIUM, PASSWORD, _axe, _shot
from tests.connectors.lti.platform import forms

pytestmark = pytest.mark.skipif(
    not __import__("pathlib").Path(CHROMIUM).exists(),
    reason=f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)",
)
DEPLOYMENT = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # Local Network Access would refuse the loopback iframe under a page the test fulfils itself
        # (before frame-ancestors is even read); everything here is on 127.0.0.1 on purpose.
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-features=LocalNetworkAccessChecks"]
        )
        yield browser
        browser.close()


def _sign_in(page, hub: str, email: str) -> None:
    page.goto(f"{hub}/admin/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{hub}/admin/")


def test_registrations_screen_copy_url_and_approve_a_pending_deployment(world, people, chromium):
    world.platform.registration.tamper = lambda claims: {**claims, DEPLOYMENT: "99"}
    assert world.browser().launch(world.platform, "4").status_code == 401  # recorded as pending
    page = chromium.new_page(locale="pl-PL", viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())
    problems: dict[str, list[str]] = {}
    _sign_in(page, world.hub, people["site"])

    page.click("nav >> text=Platformy LTI")
    page.wait_for_url(f"{world.hub}/admin/lti/")
    url = page.locator("#dynamic-registration-url")
    assert url.is_visible() and url.inner_text() == f"{world.hub}/lti/register"
    page.click("button[data-lti-copy='#dynamic-registration-url']")
    status = page.locator("#dynamic-registration-url ~ .lti-copied")
    status.wait_for(state="visible")
    assert status.inner_text() in ("Skopiowano.", "Zaznaczono: naciśnij Ctrl+C, aby skopiować.")
    waiting = page.locator("#pending-deployments")
    assert "99" in waiting.inner_text()
    problems["registrations"] = _axe(page)
    _shot(page, "lti-01-registrations")

    waiting.locator("button", has_text="Zatwierdź").click()
    page.wait_for_load_state()
    assert page.locator(".flash.info").inner_text() == "Wdrożenie zatwierdzone."
    assert page.locator("#pending-deployments").count() == 0
    assert world.browser().launch(world.platform, "4").status_code == 200

    page.click(f"#registrations >> text={world.platform.hub_registration()['name']}")
    page.wait_for_url("**/admin/lti/registrations/*")
    assert "99" in page.locator("#deployments").inner_text()
    problems["registration"] = _axe(page)
    _shot(page, "lti-02-registration")

    page.goto(f"{world.hub}/admin/lti/new")
    page.fill("#name", "Canvas")
    page.fill("#issuer", "canvas.instructure.com")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#issuer").get_attribute("aria-invalid") == "true"
    assert page.locator("#issuer").input_value() == "canvas.instructure.com"
    assert page.locator("#client_id-error").inner_text() == "Pole „Identyfikator klienta” jest wymagane."
    problems["manual form"] = _axe(page)
    _shot(page, "lti-03-manual-form-errors")

    found = {k: v for k, v in problems.items() if v}
    assert not found, f"accessibility problems: {found}"


def test_a_mistaken_registration_is_changed_then_deleted(hub_server, people, chromium):
    """The trial's dead end: a registration with a typo could be neither fixed nor removed."""
    _app, hub = hub_server
    page = chromium.new_page(locale="pl-PL", viewport={"width": 1280, "height": 900})
    page.on("dialog", lambda dialog: dialog.accept())
    problems: dict[str, list[str]] = {}
    _sign_in(page, hub, people["site"])
    page.goto(f"{hub}/admin/lti/new")
    values = {
        "#name": "Canvas szkoły",
        "#issuer": "https://canvas.instructure.com",
        "#client_id": "10000000000042",
        "#auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
        "#auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
        "#key_set_url": "https://sso.canvaslms.com/api/lti/jwsk",
    }
    for selector, value in values.items():
        page.fill(selector, value)
    page.select_option("#badge_issuer", label="Związek Sportowy")  # the issuer the platform belongs to
    page.click("main button[type=submit]")
    page.wait_for_url("**/admin/lti/registrations/*")
    assert "Związek Sportowy" in page.locator(".lti-details").inner_text()

    page.click("main a:has-text('Zmień rejestrację')")
    page.wait_for_url("**/edit")
    assert page.locator("#key_set_url").input_value().endswith("/jwsk")
    problems["change form"] = _axe(page)
    _shot(page, "lti-04-change-form")
    page.fill("#key_set_url", "https://sso.canvaslms.com/api/lti/security/jwks")
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/lti/registrations/[0-9a-f-]{36}$"))
    assert page.locator(".flash.info").inner_text() == "Rejestracja zapisana."
    assert "https://sso.canvaslms.com/api/lti/security/jwks" in page.locator(".lti-details").inner_text()

    page.click("main button:has-text('Dezaktywuj rejestrację')")
    page.wait_for_load_state()
    assert page.locator(".flash.info").inner_text() == "Rejestracja dezaktywowana."
    page.click("main a:has-text('Usuń rejestrację')")
    page.wait_for_url("**/delete")
    assert "rejestrację i jej wdrożenia (0)" in page.locator("#delete-what").inner_text()
    problems["delete confirmation"] = _axe(page)
    _shot(page, "lti-05-delete-confirmation")
    page.click("main button:has-text('Usuń rejestrację')")
    page.wait_for_url(f"{hub}/admin/lti/")
    assert page.locator(".flash.info").inner_text() == "Usunięto rejestrację platformy Canvas szkoły."

    found = {k: v for k, v in problems.items() if v}
    assert not found, f"accessibility problems: {found}"


def _frame_page(chromium, parent_url: str, tool_url: str):
    """Open ``parent_url`` (served by the test, whatever its origin) holding an iframe of ``tool_url``;
    return the page, its iframe and the console messages."""
    page = chromium.new_page()
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text))
    page.route(
        parent_url,
        lambda route: route.fulfill(
            content_type="text/html",
            body=f'<!doctype html><title>LMS</title><iframe title="tool" src="{tool_url}"></iframe>',
        ),
    )
    page.goto(parent_url)
    page.wait_for_load_state("load")
    return page, page.frames[1], messages


def test_chromium_lets_only_the_registered_platform_frame_the_tool(world, chromium):
    launched = world.browser().launch(world.platform, "10")
    tool = f"{world.hub}/lti/course?launch={forms(launched)[0]['fields']['launch']}"
    port = world.platform.base.rsplit(":", 1)[1]

    page, frame, _messages = _frame_page(chromium, f"{world.platform.base}/course/view.php", tool)
    frame.wait_for_selector("h1", state="attached")
    assert "Badges in this course" in frame.content()
    page.close()

    # The same platform's port on another host name is another origin, not registered.
    page, frame, messages = _frame_page(chromium, f"http://localhost:{port}/course/view.php", tool)
    page.wait_for_timeout(500)
    assert "Badges in this course" not in frame.content()
    assert frame.url.startswith("chrome-error://")
    assert any('violates the following Content Security Policy directive: "frame-ancestors' in m for m in messages)
    page.close()
