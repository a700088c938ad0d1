"""The public page's "(JSON)" links give JSON downloads, not the page again, and the OB 3.0
credential's own page is the public page's style in Polish and English (issue 13)."""

from __future__ import annotations

import re

from tests.hub.certificates.support import award

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_json_links_on_the_public_page_download_json(client, ctx, factory):
    aid = award(client, ctx, factory)
    page = client.get(f"/assertions/{aid}?lang=en", headers=BROWSER).get_data(as_text=True)
    links = dict(re.findall(r'<a href="([^"]+)"[^>]*>([^<]*\(JSON\))</a>', page))
    assert set(links.values()) == {"Open Badges 2.0 assertion (JSON)", "Open Badges 3.0 credential (JSON)"}
    for href in links:
        # What a browser sends when the link is followed.
        r = client.get(href.replace(ctx.urls.base, ""), headers=BROWSER)
        assert r.status_code == 200
        assert r.mimetype in ("application/ld+json", "application/vc+ld+json"), r.mimetype
        assert r.headers["Content-Disposition"].startswith("attachment; filename=")
        doc = r.get_json(force=True)
        assert doc["type"] == "Assertion" or "OpenBadgeCredential" in doc["type"]
    # The canonical URLs still negotiate: a browser gets the page, a verifier the JSON.
    assert client.get(f"/assertions/{aid}", headers=BROWSER).mimetype == "text/html"
    assert client.get(f"/assertions/{aid}").mimetype == "application/ld+json"


def test_unknown_format_is_a_clear_problem(client, ctx, factory):
    aid = award(client, ctx, factory)
    for path in (f"/assertions/{aid}?format=xml", f"/credentials/{aid}?format=xml"):
        r = client.get(path, headers={"Accept": "application/json"})
        assert r.status_code == 422 and r.get_json()["field"] == "format", path


def test_revoked_assertion_download_is_the_410_json(client, ctx, factory):
    from sqlalchemy import select

    from hub.badges import services as badges
    from hub.badges.models import Assertion

    aid = award(client, ctx, factory)
    with ctx.db.session_scope() as s:
        badges.revoke(s, ctx, s.scalar(select(Assertion).where(Assertion.public_id == aid)), "mistake")
    r = client.get(f"/assertions/{aid}?format=json", headers=BROWSER)
    assert r.status_code == 410 and r.get_json(force=True)["revoked"] is True
    assert "attachment" in r.headers["Content-Disposition"]


def test_credential_page_is_styled_and_speaks_polish_and_english(client, ctx, factory):
    aid = award(client, ctx, factory)
    en = client.get(f"/credentials/{aid}?lang=en", headers=BROWSER)
    pl = client.get(f"/credentials/{aid}?lang=pl", headers=BROWSER)
    assert en.mimetype == pl.mimetype == "text/html"
    en, pl = en.get_data(as_text=True), pl.get_data(as_text=True)
    for page in (en, pl):
        assert "public.css" in page and 'class="status valid"' in page  # the public page's layout
        assert f"/credentials/{aid}?format=json" in page and f"/credentials/{aid}/jwt" in page
        assert "Zażółć gęślą jaźń" in page
    assert '<html lang="en">' in en and "Issued by" in en and "Download" in en
    assert '<html lang="pl">' in pl and "Wystawca" in pl and "Pobierz" in pl and "Issued by" not in pl
