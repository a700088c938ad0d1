"""The badge form's learning outcomes in a real browser (Playwright driving Debian's Chromium, as
test_console_flow.py): search a descriptor, pick it, save, and see it on the edit form and on the public
badge page; axe-core on the form; screenshots into ``tests/browser/screenshots/``."""

from __future__ import annotations

from hub.accounts import services as accounts
from hub.badges import services as badges
from hub.demo import badge_png
from tests.browser.test_console_flow import PASSWORD, _axe, _shot, browser_page, pytestmark  # noqa: F401


def test_pick_a_descriptor_for_a_learning_outcome(live_server, browser_page, tmp_path):  # noqa: F811
    ctx = live_server.extensions["hub"]
    base = ctx.settings.base_url
    with ctx.db.session_scope() as s:
        accounts.create_user(s, email="admin@example.org", password=PASSWORD, site_admin=True)
        badges.create_issuer(s, ctx, name="Szkoła Łódź", url="https://szkola.example.pl")
    image = tmp_path / "badge.png"
    image.write_bytes(badge_png())
    page = browser_page
    problems: dict[str, list[str]] = {}

    page.goto(f"{base}/admin/login")
    page.fill("#email", "admin@example.org")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")

    page.goto(f"{base}/admin/badges/new")
    page.fill("#name", "Programowanie")
    page.fill("#description", "Kurs programowania")
    page.set_input_files("#image", str(image))
    page.fill("#outcome-0-text_pl", "Samodzielnie rozwiązuje typowe problemy")
    page.fill("#outcome-0-text_en", "Solves routine problems on their own")
    assert page.locator("#micro-fields").is_hidden()  # shown once the micro-credential box is ticked
    page.fill("#outcome-0-q", "poziom 4")
    page.press("#outcome-0-q", "Enter")  # searches in the page (no form submission)
    results = page.locator("#outcome-0-results li")
    results.first.wait_for()
    assert "Poziom 4 ERK" in page.locator("#outcome-0-results").inner_text()
    assert page.url == f"{base}/admin/badges/new"
    problems["form with results"] = _axe(page)
    _shot(page, "10-badge-outcome-search")
    # Chromium keeps the scroll position of a full-page screenshot until focus moves; move it now, or the
    # click's mousedown would scroll the page under the pointer.
    page.evaluate("document.activeElement.blur()")
    results.filter(has_text="Poziom 4 ERK").get_by_role("button").click()
    chip = page.locator("#outcome-0-chips li")
    assert chip.count() == 1 and "Poziom 4 ERK" in chip.inner_text()
    assert page.locator("input[name=outcome-0-descriptor]").get_attribute("value") == "eqf:4"

    page.click("button[value='add:outcome']")  # a second, empty outcome row: ignored when saved
    assert page.locator("#outcome-1-text_pl").is_visible()
    assert "Efekt uczenia się 2" in page.locator("#outcome-rows").inner_text()
    page.locator("button[value='save']").first.click()
    page.wait_for_url("**/admin/badges/*")
    assert "/admin/badges/new" not in page.url
    saved = page.locator("#outcome-0-chips li")
    assert saved.count() == 1 and "Poziom 4 ERK" in saved.inner_text()
    assert page.locator("#outcome-1-text_pl").count() == 0
    problems["saved badge"] = _axe(page)
    _shot(page, "11-badge-with-outcome")

    page.check("#micro_credential")  # the EU micro-credential elements, saved in steps
    assert page.locator("#micro-fields").is_visible()
    page.fill("#ects", "5")
    page.select_option("#eqf_level", "4")
    page.select_option("#participation_form", "online")
    page.locator("button[value='save']").last.click()
    page.wait_for_load_state()
    missing = page.locator(".missing").inner_text()
    assert "brakuje jeszcze" in missing and "rodzaj oceny" in missing and "poziom (ERK)" not in missing
    problems["micro-credential"] = _axe(page)
    _shot(page, "12-badge-micro-credential-missing")

    page.click("text=Strona publiczna")
    page.wait_for_load_state()
    public = page.locator("main").inner_text()
    assert "Samodzielnie rozwiązuje typowe problemy" in public and "Poziom 4 ERK" in public
    _shot(page, "13-badge-public-outcomes")

    found = {k: v for k, v in problems.items() if v}
    assert not found, f"accessibility problems: {found}"
