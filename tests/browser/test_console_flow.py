"""The console's main flow in a real browser: Playwright driving Debian's Chromium (``/usr/bin/chromium``,
installed by ``.ci/run``; ``playwright install`` cannot download here). Screenshots of the main screens
go to ``tests/browser/screenshots/`` (git-ignored, for review). Accessibility basics are checked with
axe-core (bundled in the ``axe-playwright-python`` wheel, runs offline)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hub.accounts import services as accounts
from hub.demo import badge_png

CHROMIUM = os.environ.get("HUB_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).parent / "screenshots"
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)"
)


@pytest.fixture
def browser_page(live_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(locale="pl-PL", viewport={"width": 1280, "height": 900})
        page.on("dialog", lambda dialog: dialog.accept())
        yield page
        browser.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _axe(page) -> list[str]:
    """Serious and critical axe-core violations on the current page."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]


def test_administrator_flow(live_server, browser_page, tmp_path):
    ctx = live_server.extensions["hub"]
    base = ctx.settings.base_url
    with ctx.db.session_scope() as s:
        accounts.create_user(s, email="admin@example.org", password=PASSWORD, site_admin=True)
    image = tmp_path / "badge.png"
    image.write_bytes(badge_png())
    page = browser_page
    problems: dict[str, list[str]] = {}

    page.goto(f"{base}/admin/login")
    problems["login"] = _axe(page)
    _shot(page, "01-login")
    page.fill("#email", "admin@example.org")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    assert page.locator("h1").inner_text() == "Pulpit"

    page.goto(f"{base}/admin/issuers/new")
    page.fill("#name", "Szkoła Łódź")
    page.fill("#url", "https://szkola.example.pl")
    page.click("main button[type=submit]")
    page.wait_for_url("**/admin/issuers/*")
    _shot(page, "02-issuer")

    page.goto(f"{base}/admin/badges/new")
    page.fill("#name", "Zażółć gęślą jaźń")
    page.fill("#description", "Ukończenie kursu")
    page.set_input_files("#image", str(image))
    assert page.locator("#image-preview").is_visible()
    # The preview is a blob: URL the console's CSP must allow: the image really loads.
    page.wait_for_function("document.querySelector('#image-preview').naturalWidth > 0")
    page.click("main button[type=submit]")
    page.wait_for_url("**/admin/badges/*")
    problems["badge"] = _axe(page)
    _shot(page, "03-badge")

    page.goto(f"{base}/admin/connectors/new")
    page.fill("#name", "Moodle")
    page.fill("#slug", "moodle")
    page.click("main button[type=submit]")
    assert page.locator("#new-secret").inner_text().startswith("whsec_")
    assert "webhook-signature" in page.locator("#sender").inner_text()
    _shot(page, "04-connector")
    page.fill("#event_type", "course_completed")
    page.fill("#key", "ZGJ-101")
    page.click("text=Dodaj regułę")
    assert page.locator("text=Dodano regułę.").is_visible()
    problems["connector"] = _axe(page)

    page.click("text=Wyślij zdarzenie testowe")
    page.wait_for_url("**/admin/events/*")
    assert "przetworzone" in page.locator("#event-status").inner_text()
    _shot(page, "05-event")
    problems["event"] = _axe(page)

    page.click("main ul a")  # the award made from the event
    page.wait_for_url("**/admin/awards/*")
    page.fill("#reason", "Wydana przez pomyłkę")
    page.click("text=Unieważnij odznakę")
    assert "unieważniona" in page.locator("#award-state").inner_text()
    _shot(page, "06-award-revoked")

    page.goto(f"{base}/admin/events")
    problems["events"] = _axe(page)
    _shot(page, "07-events")
    page.goto(f"{base}/admin/")
    _shot(page, "08-dashboard-pl")
    page.click("header button[name=lang]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator("html").get_attribute("lang") == "en"
    problems["dashboard"] = _axe(page)
    _shot(page, "09-dashboard-en")

    page.keyboard.press("Tab")  # keyboard: the first stop is the skip link
    assert page.evaluate("document.activeElement.className") == "skip"

    found = {k: v for k, v in problems.items() if v}
    assert not found, f"accessibility problems: {found}"
