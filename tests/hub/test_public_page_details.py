"""Details of the public pages: micro-credential elements only when they have values, numbers written
the page language's way, the header link, names isolated from bidi controls, the favicon."""

from __future__ import annotations

import io
import re

from PIL import Image

from hub.badges.models import Assertion
from tests.conftest import completion, post_event

AUTH = {"Authorization": "Bearer admin-token"}
HTML = {"Accept": "text/html"}
RLO_NAME = "Kasia 😀 \u202eevil"  # U+202E RIGHT-TO-LEFT OVERRIDE, never closed
RLO_BADGE = "Odznaka \u202ezła"


def _awarded(client, ctx, factory, *, name="Zażółć Gęślą Jaźń", email="zofia@example.edu", **kw):
    ids = factory.setup(**kw)
    assert post_event(client, completion(email=email, name=name)).status_code == 202
    with ctx.db.session_scope() as s:
        return ids, s.query(Assertion).one().public_id


def _micro_list(html: str) -> str:
    return re.search(r'<dl class="micro-credential">(.*?)</dl>', html, re.S).group(1)


def test_micro_credential_shows_only_elements_with_values_and_local_numbers(client, ctx, factory):
    ids, aid = _awarded(client, ctx, factory)
    url = f"/api/v1/frameworks/badges/{ids['badge']}/micro-credential"
    assert client.put(url, json={"ects": 1.5, "workload_hours": 37.5}, headers=AUTH).status_code == 200
    pl = client.get(f"/badges/{ids['badge']}?lang=pl", headers=HTML).get_data(as_text=True)
    micro = _micro_list(pl)
    assert "None" not in pl
    assert "<dd>1,5 pkt ECTS, 37,5 godz.</dd>" in micro
    for absent in ("Kraj lub region wystawcy", "Podmioty przyznające", "Poziom", "Rodzaj oceny", "Forma uczestnictwa"):
        assert absent not in micro, absent
    assert micro.count("<dt>") == 1
    en = client.get(f"/badges/{ids['badge']}?lang=en", headers=HTML).get_data(as_text=True)
    assert "<dd>1.5 ECTS credits, 37.5 hours</dd>" in _micro_list(en)
    page = client.get(f"/assertions/{aid}?lang=pl", headers=HTML).get_data(as_text=True)
    assert "None" not in page
    assert "<dt>Punkty (ECTS)</dt><dd>1,5</dd>" in page and "1,5 pkt ECTS" in _micro_list(page)
    page_en = client.get(f"/assertions/{aid}?lang=en", headers=HTML).get_data(as_text=True)
    assert "<dt>Credits (ECTS)</dt><dd>1.5</dd>" in page_en


def test_micro_credential_with_region_only_and_no_country(client, ctx, factory):
    ids, _aid = _awarded(client, ctx, factory)
    body = {"issuer_region": "łódzkie", "assessment_type": {"pl": "Egzamin"}, "participation_form": "online"}
    url = f"/api/v1/frameworks/badges/{ids['badge']}/micro-credential"
    assert client.put(url, json=body, headers=AUTH).status_code == 200
    micro = _micro_list(client.get(f"/badges/{ids['badge']}?lang=pl", headers=HTML).get_data(as_text=True))
    assert "<dt>Kraj lub region wystawcy</dt><dd>łódzkie</dd>" in micro
    assert "<dt>Rodzaj oceny</dt><dd>Egzamin</dd>" in micro and "<dt>Forma uczestnictwa</dt><dd>online</dd>" in micro
    assert "Szacunkowy nakład pracy" not in micro and "None" not in micro


def test_header_links_to_the_verify_page_on_every_public_page(client, ctx, factory):
    ids, aid = _awarded(client, ctx, factory)
    for path in (
        f"/assertions/{aid}",
        f"/badges/{ids['badge']}",
        f"/badges/{ids['badge']}/criteria",
        f"/issuers/{ids['issuer']}",
        "/verify",
    ):
        html = client.get(path, headers=HTML).get_data(as_text=True)
        assert '<header><p><a href="/verify">Badge Hub</a>' in html, path
        assert "/health" not in html, path
    assert "Sprawdź certyfikat PDF" in client.get("/verify?lang=pl", headers=HTML).get_data(as_text=True)


def test_names_with_bidi_controls_are_isolated_on_public_pages(client, ctx, factory):
    ids, aid = _awarded(client, ctx, factory, name=RLO_NAME, email="kasia@example.org", badge_name=RLO_BADGE)
    factory.learner("kasia@example.org")
    html = client.get(f"/assertions/{aid}?lang=en", headers=HTML).get_data(as_text=True)
    assert f'<dd id="recipient"><bdi>{RLO_NAME}</bdi></dd>' in html
    assert f"<h1><bdi>{RLO_BADGE}</bdi></h1>" in html
    assert f"<title>\u2068{RLO_BADGE}\u2069 — \u2068Szkoła Łódź\u2069</title>" in html
    assert '<p dir="auto">Opis odznaki</p>' in html
    badge = client.get(f"/badges/{ids['badge']}", headers=HTML).get_data(as_text=True)
    assert f"<h1><bdi>{RLO_BADGE}</bdi></h1>" in badge and "<bdi>Szkoła Łódź</bdi></a>" in badge
    criteria = client.get(f"/badges/{ids['badge']}/criteria?lang=en", headers=HTML).get_data(as_text=True)
    assert f"How to earn “<bdi>{RLO_BADGE}</bdi>”" in criteria
    issuer = client.get(f"/issuers/{ids['issuer']}", headers=HTML).get_data(as_text=True)
    assert "<h1><bdi>Szkoła Łódź</bdi></h1>" in issuer


def test_favicon_is_served_and_linked(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200 and r.content_type == "image/vnd.microsoft.icon"
    assert "max-age" in r.headers["Cache-Control"]
    icon = Image.open(io.BytesIO(r.data))
    assert icon.format == "ICO" and {(16, 16), (32, 32)} <= set(icon.info["sizes"])
    html = client.get("/verify", headers=HTML).get_data(as_text=True)
    assert '<link rel="icon" href="/favicon.ico"' in html
