"""An issuer administrator chooses the issuer's proofs in a real browser (Chromium): the explained form,
a refused combination with the choices kept, then did:key + EdDSA + VC-JWT saved and in effect."""

from __future__ import annotations

import base64
import json

import requests

from hub.accounts import services as accounts
from tests.browser.test_console_flow import PASSWORD, _axe, _shot, browser_page, pytestmark  # noqa: F401
from tests.conftest import Factory, completion, post_event


def test_issuer_chooses_did_key_and_vc_jwt(live_server, browser_page):  # noqa: F811  (the imported fixture)
    ctx = live_server.extensions["hub"]
    base = ctx.settings.base_url
    ids = Factory(ctx).setup()
    assert post_event(live_server.test_client(), completion()).status_code == 202
    with ctx.db.session_scope() as s:
        user = accounts.create_user(s, email="admin@example.org", password=PASSWORD)
        accounts.set_role(s, user, ids["issuer_id"], "admin")
        from hub.badges.models import Assertion, Issuer

        issuer_pid = s.get(Issuer, ids["issuer_id"]).public_id
        aid = s.query(Assertion).one().public_id
    page = browser_page
    page.goto(f"{base}/admin/login?lang=en")
    page.fill("#email", "admin@example.org")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin/**")
    page.goto(f"{base}/admin/issuers/{issuer_pid}?lang=en#credential-settings")
    section = page.locator("#credential-settings")
    assert section.is_visible() and "did:web:" in page.locator("#credential-settings + p + p code").inner_text()
    assert "rotating that key changes the identifier" in page.locator("#did_method-help").inner_text()
    assert _axe(page) == []
    page.select_option("#did_method", "key")
    page.select_option("#proof_format", "vc-jwt")
    page.select_option("#jwt_algorithm", "RS256")
    page.click("#credential-settings ~ form button[type=submit]")
    page.wait_for_load_state()
    assert "musi być EdDSA" in page.content()  # the page answers in the user's language (Polish here)
    assert page.locator("#proof_format").input_value() == "vc-jwt"  # the choices are kept
    page.select_option("#jwt_algorithm", "EdDSA")
    page.click("#credential-settings ~ form button[type=submit]")
    page.wait_for_url(f"{base}/admin/issuers/{issuer_pid}#credential-settings")
    assert page.locator("#credential-settings + p + p code").inner_text().startswith("did:key:z6Mk")
    _shot(page, "issuer-credential-settings")
    token = requests.get(f"{base}/credentials/{aid}/jwt", timeout=10).text
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == "EdDSA" and header["kid"].startswith("did:key:")
