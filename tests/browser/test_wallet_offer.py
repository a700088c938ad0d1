"""Adding a badge to a wallet in a real browser (Playwright driving Debian's Chromium): the learner signs in
by magic link, presses "Dodaj do portfela", sees the QR code (decoded from the browser's rendering) and the offer
link (Polish); axe-core on the page; the link from the page gives a wallet (written from the spec) its credential."""

from __future__ import annotations

import re

from hub.learners.mail import mailer_for
from tests.browser.test_console_flow import _axe, _shot, browser_page, pytestmark  # noqa: F401
from tests.hub.verification.support import EMAIL, award_one
from tests.hub.wallets.test_oid4vci import LDP, Wallet


def test_learner_adds_a_badge_to_a_wallet(live_server, browser_page):  # noqa: F811
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    base = ctx.settings.base_url
    page = browser_page

    page.goto(f"{base}/me/login")
    page.fill("#email", EMAIL)
    page.click("form button[type=submit]")
    page.locator("#sent").wait_for()
    mail = [m for m in mailer_for(ctx.settings).sent if m.to == EMAIL][-1]
    page.goto(re.search(r"https?://\S+/me/login/\S+", mail.text).group(0))
    page.click("#continue")
    page.locator(f"#badge-{aid}").wait_for()
    button = page.locator(f'#badge-{aid} button[form="wallet-{aid}"]')
    assert button.inner_text() == "Dodaj do portfela"
    button.click()
    page.locator("#wallet-qr").wait_for()
    assert page.locator("h1").inner_text() == "Dodaj odznakę do portfela"
    assert page.evaluate("document.getElementById('wallet-qr').naturalWidth") > 0
    link = page.locator("#wallet-link").get_attribute("href")
    assert link.startswith("openid-credential-offer://?credential_offer_uri=")
    # the QR code as the browser drew it says the same link (decoded with zxing-cpp)
    import io

    import zxingcpp
    from PIL import Image

    drawn = Image.open(io.BytesIO(page.locator("#wallet-qr").screenshot()))
    assert [r.text for r in zxingcpp.read_barcodes(drawn)] == [link]
    problems = _axe(page)
    _shot(page, "50-wallet-offer")
    credential, *_ = Wallet(link).receive(LDP)
    assert credential["credentialSubject"]["id"].startswith("did:key:")
    assert problems == []
