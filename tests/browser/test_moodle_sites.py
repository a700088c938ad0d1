"""Moodle sites in a real browser (Playwright driving Debian's Chromium): an issuer administrator adds a
site (first with a mistake, shown next to its field), checks the connection against the fake Moodle
over real HTTP, and syncs. axe-core on each screen; screenshots to ``tests/browser/screenshots/``."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.accounts import services as accounts
from hub.badges import services as badges
from hub.demo import badge_png
from tests.browser.test_console_flow import CHROMIUM, PASSWORD, _axe, _shot, browser_page  # noqa: F401
from tests.moodle_bridge.conftest import fake, ref_dir  # noqa: F401  (fixtures: the fake Moodle on real HTTP)

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"browser tests need Chromium at {CHROMIUM} (apt-get install -y chromium)"
)


def test_issuer_admin_adds_a_moodle_site_and_checks_it(live_server, browser_page, fake):  # noqa: F811 (fixtures)
    moodle = fake
    ctx = live_server.extensions["hub"]
    base = ctx.settings.base_url
    with ctx.db.session_scope() as s:
        issuer = badges.create_issuer(s, ctx, name="Szkoła Łódź", url="https://szkola.example.pl")
        badges.create_badge_class(s, ctx, issuer, name="Bezpieczeństwo w sieci", description="Kurs", image=badge_png())
        admin = accounts.create_user(s, email="admin@szkola.example.pl", password=PASSWORD)
        accounts.set_role(s, admin, issuer.id, "admin")
    page = browser_page
    problems: dict[str, list[str]] = {}

    page.goto(f"{base}/admin/login")
    page.fill("#email", "admin@szkola.example.pl")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")
    page.click("header nav >> text=Witryny Moodle")
    page.wait_for_url(f"{base}/admin/moodle/")
    problems["sites"] = _axe(page)
    page.click("text=Dodaj witrynę Moodle")
    page.wait_for_url("**/admin/moodle/new")

    page.fill("#name", "Moodle szkoły")
    page.fill("#site_url", "moodle-bez-schematu")
    page.fill("#token", "good-token")
    page.fill("#course_ids", "2")
    page.click("main button[type=submit]")
    assert page.locator("#err-site_url").is_visible()
    assert page.locator("#name").input_value() == "Moodle szkoły"  # input kept
    assert page.locator("#token").input_value() == ""  # the token is never sent back
    assert page.locator("#site_url").get_attribute("aria-invalid") == "true"
    problems["form-errors"] = _axe(page)
    _shot(page, "20-moodle-site-errors")

    page.fill("#site_url", moodle.site_url)
    page.fill("#token", "good-token")
    page.click("main button[type=submit]")
    page.wait_for_url("**/admin/moodle/*-*")
    assert page.locator("h1").inner_text() == "Moodle szkoły"
    assert "good-token" not in page.content()

    page.click('button:has-text("Sprawdź połączenie")')
    page.wait_for_selector("#check-result")
    result = page.locator("#check-result").inner_text()
    assert "Połączono." in result and "Test Moodle" in result and "5.1" in result
    problems["site-checked"] = _axe(page)
    _shot(page, "21-moodle-site-checked")

    page.click('button:has-text("Synchronizuj teraz")')  # HUB_JOB_MODE=sync in tests: done when the page returns
    page.wait_for_selector("#sync-status")
    assert "gotowe" in page.locator("#sync-status").inner_text()
    assert "<td>2</td>" in page.locator("#course-states").inner_html()
    _shot(page, "22-moodle-site-synced")

    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    found = {k: v for k, v in problems.items() if v}
    assert not found, f"accessibility problems: {found}"
