"""The public badge page: live status, recipient name only when allowed, sharing tags, preview image,
downloads, PDF verification upload; and the page in headless Chromium for valid, expired, revoked."""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from hub.badges import services as badges
from hub.badges.models import Assertion
from hub.certificates.content import certificate_number
from hub.db import utcnow
from hub.learners import services as learners
from hub.learners.models import Learner, LearnerEmail
from tests.hub.certificates.support import POLISH_NAME, award

HTML = {"Accept": "text/html", "Accept-Language": "en"}
CHROMIUM = Path(os.environ.get("HUB_TEST_CHROMIUM", "/usr/bin/chromium"))


def _learner(ctx, email="zofia@example.edu", **choices) -> str:
    """A learner owning ``email`` with the given settings (as a claim would make)."""
    with ctx.db.session_scope() as s:
        learner = Learner()
        learner.emails.append(LearnerEmail(email=email, verified_at=utcnow()))
        s.add(learner)
        s.flush()
        learners.update_settings(
            s,
            learner,
            display_name=choices.get("display_name"),
            locale=choices.get("locale"),
            show_name=choices.get("show_name", False),
            allow_indexing=choices.get("allow_indexing", False),
        )
        return learner.public_id


def _meta(html: str, attr: str, name: str) -> str | None:
    m = re.search(rf'<meta {attr}="{re.escape(name)}" content="([^"]*)"', html)
    return m.group(1) if m else None


def test_private_by_default_noindex_and_no_name(client, ctx, factory):
    aid = award(client, ctx, factory)
    html = client.get(f"/assertions/{aid}", headers=HTML).get_data(as_text=True)
    assert _meta(html, "name", "robots") == "noindex, nofollow"
    assert POLISH_NAME not in html and "a verified recipient" in html
    assert 'data-status="valid"' in html
    assert client.get(f"/assertions/{aid}/certificate.pdf").status_code == 404  # the learner has not allowed it
    assert "The PDF certificate is available to the recipient." in html


def test_sharing_tags_preview_linkedin_and_embed(client, ctx, factory):
    aid = award(client, ctx, factory)
    _learner(ctx, show_name=True, allow_indexing=True, display_name="Zofia Gęślą")
    html = client.get(f"/assertions/{aid}", headers=HTML).get_data(as_text=True)
    assert _meta(html, "name", "robots") == "index, follow"
    assert "Zofia Gęślą" in html
    assert _meta(html, "property", "og:image") == ctx.urls.preview_image(aid)
    assert _meta(html, "name", "twitter:card") == "summary_large_image"
    assert _meta(html, "property", "og:url") == ctx.urls.assertion(aid)
    linkedin = re.search(r'href="(https://www.linkedin.com/profile/add\?[^"]+)"', html).group(1).replace("&amp;", "&")
    q = parse_qs(urlsplit(linkedin).query)
    assert q["startTask"] == ["CERTIFICATION_NAME"] and q["name"] == ["Zażółć gęślą jaźń"]
    assert q["organizationName"] == ["Szkoła Łódź"] and q["certUrl"] == [ctx.urls.assertion(aid)]
    assert q["certId"] == [certificate_number(aid)] and q["issueYear"] == ["2025"] and q["issueMonth"] == ["11"]
    assert "&lt;a href=&#34;" in html or "&lt;a href=&quot;" in html  # the embed snippet, escaped in a textarea
    resp = client.get(f"/assertions/{aid}/preview.png")
    img = Image.open(io.BytesIO(resp.data))
    assert resp.mimetype == "image/png" and img.size == (1200, 628)
    assert abs(img.size[0] / img.size[1] - 1.91) < 0.01
    assert client.get(f"/assertions/{aid}/preview.png").data == resp.data  # cached
    pdf = client.get(f"/assertions/{aid}/certificate.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")


def test_verify_page_reports_signature_issuer_and_status(client, ctx, factory):
    aid = award(client, ctx, factory)
    _learner(ctx, show_name=True)
    pdf = client.get(f"/assertions/{aid}/certificate.pdf").data
    up = lambda data: client.post(  # noqa: E731
        "/verify", data={"file": (io.BytesIO(data), "c.pdf")}, headers={"Accept": "application/json"}
    ).get_json()
    good = up(pdf)
    assert good["ok"] and good["signature"] == "intact" and good["issuer_name"] == "Szkoła Łódź"
    assert good["credential"] == "verified" and good["status"] == "valid"
    appended = pdf + b"\n1 0 obj\n<< >>\nendobj\n"
    bad = up(pdf.replace(b"/Reason (Open", b"/Reason (Opem"))
    assert bad["signature"] == "broken" and not bad["ok"]
    assert up(appended)["signature"] in ("modified", "broken")
    with ctx.db.session_scope() as s:
        badges.revoke(s, ctx, s.query(Assertion).filter_by(public_id=aid).one(), "Błąd w danych")
    revoked = up(pdf)  # the old, still-valid PDF: its award is now revoked
    assert revoked["signature"] == "intact" and revoked["status"] == "revoked"
    assert revoked["revocation_reason"] == "Błąd w danych"
    page = client.post("/verify", data={"file": (io.BytesIO(pdf), "c.pdf")}, headers=HTML).get_data(as_text=True)
    assert 'data-status="revoked"' in page
    assert client.post("/verify", data={"file": (io.BytesIO(b"hello"), "x.pdf")}, headers=HTML).status_code == 422


def _chromium():
    if not CHROMIUM.exists():
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (Debian package chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    return sync_api


def test_public_page_in_headless_chromium(live_server, factory):
    sync_api = _chromium()
    ctx = live_server.extensions["hub"]
    client = live_server.test_client()
    setup = factory.setup(expires_after_days=30)  # the completion is from 2025-11-29: long expired
    expired = award(client, ctx, factory, setup=setup)
    Factory2 = type(factory)
    valid_setup = Factory2(ctx).setup(slug="lms2", key="V-1")
    from tests.conftest import completion, post_event

    post_event(client, completion(email="v@example.edu", idnumber="V-1"), slug="lms2")
    post_event(client, completion(email="r@example.edu", idnumber="V-1", user_id=8), slug="lms2")
    with ctx.db.session_scope() as s:
        valid = s.query(Assertion).filter_by(recipient_plain="v@example.edu").one().public_id
        r = s.query(Assertion).filter_by(recipient_plain="r@example.edu").one()
        badges.revoke(s, ctx, r, "Naruszenie regulaminu")
        revoked = r.public_id
    assert valid_setup["badge"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(locale="pl-PL")
        seen = {}
        for aid in (valid, expired, revoked):
            page.goto(ctx.urls.assertion(aid))
            seen[aid] = (page.locator("#status").get_attribute("data-status"), page.locator("#status").inner_text())
        assert seen[valid][0] == "valid" and "Ważna" in seen[valid][1]
        assert seen[expired][0] == "expired" and "Wygasła" in seen[expired][1]
        assert seen[revoked][0] == "revoked" and "Naruszenie regulaminu" in seen[revoked][1]
        page.goto(ctx.urls.assertion(valid))
        assert page.locator("meta[property='og:image']").get_attribute("content") == ctx.urls.preview_image(valid)
        page.click("#copy-link")
        page.wait_for_selector("#copied", state="visible")
        img = page.request.get(ctx.urls.preview_image(valid))
        assert img.ok and Image.open(io.BytesIO(img.body())).size == (1200, 628)
        browser.close()
