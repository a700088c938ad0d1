"""The public verifier in a real browser (Playwright driving Debian's Chromium): upload a baked badge,
read each check in Polish, paste a tampered credential and see it refused; axe-core on the result."""

from __future__ import annotations

import json

import requests

from tests.browser.test_console_flow import _axe, _shot, browser_page, pytestmark  # noqa: F401
from tests.hub.verification.support import EMAIL, award_one


def test_verify_page_shows_each_check(live_server, browser_page, tmp_path):  # noqa: F811
    ctx = live_server.extensions["hub"]
    object.__setattr__(ctx, "settings", ctx.settings.with_(verify_allow_private_hosts=True))  # the test's loopback
    aid = award_one(live_server)
    base = ctx.settings.base_url
    png = tmp_path / "badge.png"
    png.write_bytes(requests.get(ctx.urls.assertion_baked(aid), timeout=10).content)
    page = browser_page

    page.goto(f"{base}/verify")
    assert page.locator("h1").inner_text() == "Sprawdź odznakę"
    page.set_input_files("#file", str(png))
    page.fill("#email", EMAIL)
    page.click("#verify-form button[type=submit]")
    page.locator("#verdict").wait_for()
    assert page.locator("#verdict").get_attribute("data-verdict") == "valid"
    assert page.locator("#verdict").inner_text() == "Ważna"
    rows = page.locator("#checks tbody tr")
    assert rows.count() >= 5
    recipient = page.locator('#checks tr[data-check="recipient"]')
    assert recipient.get_attribute("data-status") == "passed" and "Odbiorca" in recipient.inner_text()
    problems = _axe(page)
    _shot(page, "40-verify-valid")

    cred = json.loads(
        requests.get(ctx.urls.credential(aid), headers={"Accept": "application/vc+ld+json"}, timeout=10).text
    )
    cred["credentialSubject"]["achievement"]["name"] = "Podróbka"
    page.goto(f"{base}/verify?lang=en")
    page.fill("#text", json.dumps(cred))
    page.click("#verify-form button[type=submit]")
    page.locator("#verdict").wait_for()
    assert page.locator("#verdict").get_attribute("data-verdict") == "invalid"
    proof = page.locator('#checks tr[data-check="proof"]')
    assert proof.get_attribute("data-status") == "failed" and "changed" in proof.inner_text()
    _shot(page, "41-verify-tampered")
    assert problems == []
