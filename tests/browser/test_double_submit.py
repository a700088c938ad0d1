"""A double click on a console form's button sends the form once (``admin.js``), in a real browser
(Playwright driving Debian's Chromium, as tests/browser/test_console_flow.py); an API token is shown
once, after a redirect, so reloading the page makes no second token."""

from __future__ import annotations

import time

from flask import request
from playwright.sync_api import Error as PlaywrightError

from hub.accounts import services as accounts
from hub.accounts.models import ApiToken
from hub.badges.models import Issuer
from tests.browser.test_console_flow import PASSWORD, _axe, _shot, browser_page, pytestmark  # noqa: F401


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/admin/login")
    page.fill("#email", "admin@example.org")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/")


def _new_issuer(page, base: str, name: str) -> int:
    """Fill the new-issuer form and double-click its button as a person does (about 0.1 s between the
    clicks, the server still working on the first); returns how many POSTs the browser sent."""
    posts: list[str] = []

    def seen(r):
        if r.method == "POST" and r.url.endswith("/admin/issuers/new"):
            posts.append(r.url)

    page.on("request", seen)
    page.goto(f"{base}/admin/issuers/new")
    page.fill("#name", name)
    page.fill("#url", "https://szkola.example.pl")
    page.dblclick("main button[type=submit]", delay=60)
    # Without admin.js the second POST replaces the first one's navigation, which Chromium reports as
    # aborted (net::ERR_ABORTED) when the first answer is slow to come: wait for the one that lands.
    deadline = time.monotonic() + 60
    while True:
        try:
            page.wait_for_url("**/admin/issuers/*-*")
            break
        except PlaywrightError as exc:
            if "ERR_ABORTED" not in str(exc) or time.monotonic() > deadline:
                raise
    page.wait_for_load_state("networkidle")
    page.remove_listener("request", seen)
    return len(posts)


def test_double_click_submits_once_and_tokens_are_shown_once(live_server, browser_page):  # noqa: F811
    ctx = live_server.extensions["hub"]
    base = ctx.settings.base_url
    with ctx.db.session_scope() as s:
        user = accounts.create_user(s, email="admin@example.org", password=PASSWORD, site_admin=True)
        user_id = user.id

    @live_server.before_request
    def slow_issuer_form():  # a busy server: the first POST is still running at the second click
        if request.method == "POST" and request.path == "/admin/issuers/new":
            time.sleep(0.5)

    page = browser_page
    _sign_in(page, base)

    # Control: without the console's script the same double click sends the form twice (the trial).
    page.route("**/static/admin.js", lambda route: route.abort())
    assert _new_issuer(page, base, "Bez skryptu") == 2
    page.unroute("**/static/admin.js")
    with ctx.db.session_scope() as s:
        assert s.query(Issuer).filter_by(name="Bez skryptu").count() == 2

    assert _new_issuer(page, base, "Szkoła Łódź") == 1
    with ctx.db.session_scope() as s:
        assert s.query(Issuer).filter_by(name="Szkoła Łódź").count() == 1
    _shot(page, "20-issuer-after-double-click")

    # An API token: POST, redirect, the secret on the page once; a reload makes no second token.
    page.goto(f"{base}/admin/account")
    page.fill("#token-name", "ci")
    page.click("text=Utwórz token")
    page.wait_for_url(f"{base}/admin/account")
    token = page.locator("#new-token").inner_text()
    assert token.startswith("bh_")
    assert _axe(page) == []
    _shot(page, "21-api-token-once")
    page.reload()
    assert page.locator("#new-token").count() == 0
    with ctx.db.session_scope() as s:
        assert s.query(ApiToken).filter_by(user_id=user_id).count() == 1
