"""The web face, hardened (issue 13): security headers on every public and learner page and every served
image (:mod:`hub.web.security`), links only to http(s) URLs, unsafe SVG refused at upload, ``%00`` in
an id a 404, CR/LF in the console's ``next`` a safe redirect. Read from real responses."""

from __future__ import annotations

import base64
import logging
import re

import pytest

from hub.badges.models import Assertion, Issuer
from hub.web.security import IMAGE_CSP, link, web_url
from tests.conftest import BADGE_SVG, completion, post_event
from tests.hub.web.conftest import PASSWORD, csrf

AUTH = {"Authorization": "Bearer admin-token"}
HTML = {"Accept": "text/html"}
SMIL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><a>'
    '<set attributeName="href" to="javascript:alert(document.domain)"/><text y="9">x</text></a></svg>'
)


def _awarded(client, ctx, factory, **kw) -> tuple[dict, str]:
    ids = factory.setup(**kw)
    assert post_event(client, completion(email="kasia@example.org")).status_code == 202
    with ctx.db.session_scope() as s:
        return ids, s.query(Assertion).one().public_id


def _page_policy(resp) -> dict[str, str]:
    csp = resp.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split(None, 1)[1] for d in (p.strip() for p in csp.split(";")) if d}


def test_public_and_learner_pages_send_the_page_policy(client, ctx, factory):
    ids, aid = _awarded(client, ctx, factory)
    learner_id = factory.learner("kasia@example.org")
    pages = [
        f"/assertions/{aid}",
        f"/badges/{ids['badge']}",
        f"/badges/{ids['badge']}/criteria",
        f"/issuers/{ids['issuer']}",
        f"/credentials/{aid}",
        f"/portfolio/{learner_id}",
        "/verify",
        "/me/login",
        "/assertions/no-such-award",  # the error page too
    ]
    for path in pages:
        resp = client.get(path, headers=HTML)
        assert resp.mimetype == "text/html", path
        policy = _page_policy(resp)
        assert policy["script-src"] == "'self' http://hub.test", path
        assert policy["style-src"] == "'self' http://hub.test" and policy["object-src"] == "'none'", path
        assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'", path
        assert resp.headers["X-Frame-Options"] == "DENY", path
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert resp.headers["Referrer-Policy"] in ("same-origin", "no-referrer"), path
    page = client.get(f"/assertions/{aid}", headers=HTML).get_data(as_text=True)
    assert "<style" not in page and all(' src="' in tag for tag in re.findall(r"<script[^>]*>", page))
    script = re.search(r'<script src="([^"]+)"', page).group(1)
    assert client.get(script).status_code == 200 and "copy-link" in client.get(script).get_data(as_text=True)
    assert client.get("/static/public.css").mimetype == "text/css"


def test_personal_pages_are_not_cacheable_and_the_portfolio_is(client, ctx, factory):
    _awarded(client, ctx, factory)
    learner_id = factory.learner("kasia@example.org")
    assert client.get("/me").status_code == 303
    with client.session_transaction() as sess:
        sess["learner"] = learner_id
    for path in ("/me", "/me/login", "/me/claim/some-token", "/me/login/some-token"):
        resp = client.get(path, headers=HTML)
        assert resp.status_code == 200, path
        assert resp.headers["Cache-Control"] == "no-store", path
        assert resp.headers["Referrer-Policy"] == "no-referrer", path  # claim and sign-in tokens in the URL
    portfolio = client.get(f"/portfolio/{learner_id}", headers=HTML)
    assert "no-store" not in portfolio.headers.get("Cache-Control", "")


def test_every_served_image_is_sandboxed(client, ctx, factory):
    ids, aid = _awarded(client, ctx, factory, image=BADGE_SVG.encode())
    images = [
        f"/badges/{ids['badge']}/image",
        f"/assertions/{aid}/baked.svg",
        f"/credentials/{aid}/baked.svg",
        f"/credentials/{aid}/baked.svg?format=jwt",
        f"/assertions/{aid}/preview.png",
        "/favicon.ico",
    ]
    for path in images:
        resp = client.get(path)
        assert resp.status_code == 200 and resp.mimetype.startswith("image/"), path
        assert resp.headers["Content-Security-Policy"] == IMAGE_CSP, path
        assert "sandbox" in IMAGE_CSP and "default-src 'none'" in IMAGE_CSP
        assert resp.headers["X-Content-Type-Options"] == "nosniff", path
        assert "X-Frame-Options" not in resp.headers, path  # the embed snippet shows the image elsewhere


def test_console_keeps_its_policy(client, world):
    login = client.get("/admin/login")
    assert "form-action 'self'" in login.headers["Content-Security-Policy"]
    assert login.headers["X-Frame-Options"] == "DENY" and login.headers["Cache-Control"] == "no-store"


def test_smil_svg_refused_at_upload_in_the_readers_language(client):
    issuer = client.post("/api/v1/issuers", headers=AUTH, json={"name": "Klub", "url": "https://klub.example"})
    body = {
        "issuer": issuer.get_json()["id"],
        "name": "Pływak",
        "description": "25 m",
        "image": base64.b64encode(SMIL_SVG.encode()).decode(),
    }
    refused = client.post("/api/v1/badge-classes", headers={**AUTH, "Accept-Language": "pl"}, json=body)
    assert refused.status_code in (400, 422)
    assert "animuje cel odnośnika" in refused.get_data(as_text=True)
    english = client.post("/api/v1/badge-classes?lang=en", headers=AUTH, json=body)
    assert "animates a link target" in english.get_data(as_text=True)


@pytest.mark.parametrize(
    "value, ok",
    [
        ("https://lms.example/evidence/1", True),
        ("HTTP://lms.example/", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("https://lms.example/\nx", False),
        ("data:text/html,<script>alert(1)</script>", False),
        ("//lms.example/x", False),
        ("https:///nohost", False),
        ("https://[::1", False),
        ("", False),
        (None, False),
    ],
)
def test_web_url(value, ok):
    assert web_url(value) == (value if ok else None)


def test_link_renders_an_anchor_only_for_web_urls():
    assert str(link("https://a.example/?x=1&y=2", rel="nofollow")) == (
        '<a href="https://a.example/?x=1&amp;y=2" rel="nofollow">https://a.example/?x=1&amp;y=2</a>'
    )
    assert str(link('javascript:alert("x")')) == "javascript:alert(&#34;x&#34;)"
    assert str(link(None, "<b>")) == "&lt;b&gt;"


def test_non_web_urls_are_shown_as_text_on_public_pages(client, ctx, factory):
    ids, aid = _awarded(client, ctx, factory)
    with ctx.db.session_scope() as s:  # as a webhook delivered them before awards refused such URLs
        a = s.query(Assertion).one()
        a.evidence = [{"id": "javascript:alert(document.cookie)", "narrative": "Praca"}]
        a.badge_class.criteria_url = "javascript:alert(2)"
        s.query(Issuer).one().url = "javascript:alert(3)"
    for path in (f"/assertions/{aid}", f"/issuers/{ids['issuer']}", f"/badges/{ids['badge']}", f"/credentials/{aid}"):
        html = client.get(path, headers=HTML).get_data(as_text=True)
        assert "javascript:" not in " ".join(re.findall(r'href="([^"]*)"', html)), path
    page = client.get(f"/assertions/{aid}", headers=HTML).get_data(as_text=True)
    assert "<dd>javascript:alert(document.cookie) <bdi>Praca</bdi></dd>" in page
    assert f'href="http://hub.test/badges/{ids["badge"]}/criteria"' in page  # the hub's own criteria page


def test_nul_in_an_id_is_not_found_without_touching_the_database(client, ctx, factory, caplog):
    ids, aid = _awarded(client, ctx, factory)
    caplog.set_level(logging.WARNING)
    for path in (
        "/assertions/%00",
        f"/assertions/{aid}%00",
        f"/badges/{ids['badge']}%00/image",
        "/credentials/x%00y",
        "/credentials/%00/baked.png",
        "/issuers/%00/did.json",
        "/portfolio/%00",
    ):
        assert client.get(path, headers=HTML).status_code == 404, path
    assert post_event(client, completion(), slug="lms%00").status_code == 404
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_line_breaks_in_sign_in_next_go_to_the_dashboard(client, world):
    for nxt in ("/admin/awards\r\nSet-Cookie: x=1", "/admin/\nx", "/admin\t/x"):
        resp = client.post(
            "/admin/login",
            query_string={"next": nxt},
            data={"email": "admin-a@example.org", "password": PASSWORD, "csrf_token": csrf(client)},
        )
        assert resp.status_code == 302, nxt
        assert resp.headers["Location"] == "/admin/", nxt
        assert "x=1" not in resp.headers.get("Set-Cookie", "")
        client.post("/admin/logout", data={"csrf_token": csrf(client, "/admin/account")})
