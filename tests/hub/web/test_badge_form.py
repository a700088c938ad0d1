"""The console's badge form with learning outcomes, descriptors, alignments, expiry and EU micro-credential
elements (with and without JavaScript: the row buttons submit ``form_action``), its descriptor search
endpoint, the credential the saved badge issues, and the frameworks/certificates API on flask-smorest."""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.types import PlatformUser
from hub.accounts import services as accounts
from hub.accounts.models import AuditEntry, User
from hub.badges import services as badges
from hub.badges.models import BadgeClass
from hub.credentials import ob2, ob3
from hub.demo import badge_png
from hub.frameworks import importers, microcredentials
from hub.frameworks import services as fw
from tests.hub.web.conftest import post_form, sign_in

DATA = Path(__file__).resolve().parents[1] / "frameworks" / "data"
ADMIN = {"Authorization": "Bearer admin-token"}
ERROR = re.compile(r'<p class="field-error" id="([^"]+)-error">([^<]+)</p>')
CHIPS = re.compile(r'name="outcome-(\d+)-descriptor" value="([^"]+)"')


@pytest.fixture
def esco(ctx, world):
    """The ESCO test skills (English and Polish labels) beside the world of two issuers."""
    with ctx.db.session_scope() as s:
        for lang in ("en", "pl"):
            body = io.BytesIO((DATA / f"skills_{lang}.csv").read_bytes())
            importers.import_esco(s, body, kind="skills", language=lang)
    return world


def _form(world, **extra) -> dict:
    """A complete new-badge form of issuer A: two outcomes (one with two descriptors), an alignment,
    expiry, and a micro-credential lacking its quality assurance."""
    return {
        "issuer": world["a"]["issuer_pid"],
        "name": "Programowanie w Pythonie",
        "description": "Kurs programowania",
        "expires_after_days": "730",
        "outcome-0-text_pl": "Pisze programy w Pythonie",
        "outcome-0-text_en": "Writes Python programs",
        "outcome-0-descriptor": ["esco-skills:0001-python", "eqf:4"],
        "outcome-3-text_pl": "Pracuje w zespole",
        "outcome-3-descriptor": "esco-skills:0002-teamwork",
        "alignment-0-name": "Sylabus informatyki",
        "alignment-0-url": "https://szkola.example.pl/sylabus",
        "alignment-0-description": "Program szkoły",
        "alignment-0-framework": "Szkoła",
        "alignment-0-code": "INF-1",
        "micro_credential": "on",
        "ects": "2,5",
        "workload_hours": "60",
        "issuer_country": "pl",
        "issuer_region": "łódzkie",
        "body-0-name": "Szkoła Łódź",
        "body-0-url": "https://szkola.example.pl",
        "body-0-country": "PL",
        "eqf_level": "4",
        "prk_level": "4",
        "participation_form": "blended",
        "assessment_type_pl": "Projekt",
        "assessment_type_en": "Project",
        "supervision": "supervised-online-identity-verification",
        "stackability": "standalone",
        "in_language": "pl",
        **extra,
    }


def _post(client, path, data, image=True):
    data = dict(data)
    if image:
        data["image"] = (io.BytesIO(badge_png()), "badge.png")
    return post_form(client, path, data, content_type="multipart/form-data")


@contextmanager
def _badge(ctx, public_id):
    """A session and the badge class; closed even when an assertion fails (SQLite: no lock left held)."""
    with ctx.db.session_scope() as s:
        yield s, s.scalar(select(BadgeClass).where(BadgeClass.public_id == public_id))


def test_create_and_edit_with_outcomes_descriptors_and_micro_credential(client, ctx, esco):
    sign_in(client, "admin-a@example.org")
    assert "Dodaj efekt uczenia się" in client.get("/admin/badges/new").get_data(as_text=True)
    r = _post(client, "/admin/badges/new", _form(esco))
    assert r.status_code == 302, ERROR.findall(r.get_data(as_text=True))
    badge_id = r.headers["Location"].rsplit("/", 1)[-1]

    with _badge(ctx, badge_id) as (s, badge):
        outcomes = [fw.outcome_json(o) for o in fw.outcomes_of(s, badge)]
        assert outcomes == [
            {
                "text": {"en": "Writes Python programs", "pl": "Pisze programy w Pythonie"},
                "descriptors": ["esco-skills:0001-python", "eqf:4"],  # in the order the descriptors were loaded
            },
            {"text": {"en": None, "pl": "Pracuje w zespole"}, "descriptors": ["esco-skills:0002-teamwork"]},
        ]
        assert badge.expires_after_days == 730
        assert badge.alignments == [
            {
                "targetName": "Sylabus informatyki",
                "targetUrl": "https://szkola.example.pl/sylabus",
                "targetDescription": "Program szkoły",
                "targetFramework": "Szkoła",
                "targetCode": "INF-1",
            }
        ]
        micro = microcredentials.description_json(s, badge)
        assert micro["micro_credential"] and micro["ects"] == 2.5 and micro["issuer_country"] == "PL"
        assert micro["awarding_bodies"] == [
            {"name": "Szkoła Łódź", "url": "https://szkola.example.pl", "country": "PL"}
        ]
        assert micro["assessment_type"] == {"pl": "Projekt", "en": "Project"} and micro["in_language"] == "pl"
        assert micro["missing"] == ["quality_assurance"]
        actions = {e.action: e for e in s.scalars(select(AuditEntry).where(AuditEntry.object_id == badge_id))}
        assert set(actions) == {"badge_class.create", "badge_class.outcomes", "badge_class.micro_credential"}
        assert actions["badge_class.outcomes"].after == {"outcomes": outcomes}
        assert actions["badge_class.micro_credential"].after["eqf_level"] == 4

    # The edit page shows it all back, and what a complete micro-credential still lacks.
    page = client.get(f"/admin/badges/{badge_id}").get_data(as_text=True)
    assert CHIPS.findall(page) == [("0", "esco-skills:0001-python"), ("0", "eqf:4"), ("1", "esco-skills:0002-teamwork")]
    assert "Python (programowanie komputerowe)" in page and "Poziom 4 ERK" in page  # labels in the page language
    assert "Do pełnego mikropoświadczenia brakuje jeszcze:" in page and "rodzaj zapewniania jakości" in page
    assert 'value="Sylabus informatyki"' in page and 'value="730"' in page and 'value="2.5"' in page

    # Edit: drop a descriptor and the second outcome, complete the description -> audited before/after.
    edit = _form(
        esco,
        **{"outcome-0-descriptor": "esco-skills:0001-python", "quality_assurance_pl": "Wewnętrzny system jakości"},
    )
    del edit["outcome-3-text_pl"], edit["outcome-3-descriptor"]
    r = _post(client, f"/admin/badges/{badge_id}", edit, image=False)
    assert r.status_code == 302
    page = client.get(f"/admin/badges/{badge_id}").get_data(as_text=True)
    assert CHIPS.findall(page) == [("0", "esco-skills:0001-python")]
    assert "Podano wszystkie obowiązkowe elementy mikropoświadczenia." in page
    with _badge(ctx, badge_id) as (s, badge):
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "badge_class.outcomes").order_by(AuditEntry.id.desc())
        ).first()
        assert entry.before == {"outcomes": outcomes} and len(entry.after["outcomes"]) == 1
        assert microcredentials.missing_elements(s, badge) == []

    # Unticking the box makes it an ordinary badge again; the description is kept.
    plain = {k: v for k, v in edit.items() if k != "micro_credential"}
    assert _post(client, f"/admin/badges/{badge_id}", plain, image=False).status_code == 302
    with _badge(ctx, badge_id) as (s, badge):
        assert not microcredentials.is_micro_credential(s, badge)
        assert microcredentials.description_of(s, badge).quality_assurance == {"pl": "Wewnętrzny system jakości"}


def test_errors_are_shown_by_their_fields_and_the_input_is_kept(client, ctx, esco):
    sign_in(client, "admin-a@example.org")
    bad = _form(
        esco,
        **{
            "expires_after_days": "dwa",
            "alignment-0-url": "ftp://x",
            "outcome-3-text_pl": "",
            "ects": "-1",
            "body-0-country": "Polska",
            "outcome-0-descriptor": ["eqf:4", "esco-skills:nope"],
        },
    )
    r = _post(client, "/admin/badges/new", bad)
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    errors = dict(ERROR.findall(page))
    assert set(errors) == {
        "expires_after_days",
        "alignment-0-url",
        "outcome-1-text_pl",
        "outcome-0-descriptors",
        "ects",
        "body-0-country",
    }
    assert errors["outcome-0-descriptors"] == "Nie ma deskryptora esco-skills:nope."
    assert 'aria-invalid="true" aria-describedby="ects-error"' in page
    assert 'value="Programowanie w Pythonie"' in page and "Pracuje w zespole" not in page  # kept; text was emptied
    assert 'value="dwa"' in page and 'value="Polska"' in page and CHIPS.findall(page)[0] == ("0", "eqf:4")
    assert "Przed zapisaniem wybierz obraz ponownie" in page  # a browser never sends a file twice
    # A service's refusal lands by its field too (PRK must equal EQF), and nothing was saved.
    r = _post(client, "/admin/badges/new", _form(esco, prk_level="5"))
    assert r.status_code == 422 and set(dict(ERROR.findall(r.get_data(as_text=True)))) == {"prk_level"}
    with ctx.db.session_scope() as s:
        assert s.scalar(select(BadgeClass).where(BadgeClass.name == "Programowanie w Pythonie")) is None
    r = _post(client, "/admin/badges/new", _form(esco), image=False)
    assert r.status_code == 422 and set(dict(ERROR.findall(r.get_data(as_text=True)))) == {"image"}


def test_row_buttons_work_without_javascript(client, ctx, esco):
    sign_in(client, "admin-a@example.org")
    form = {"issuer": esco["a"]["issuer_pid"], "name": "Zespół", "description": "Opis", "outcome-0-text_pl": "Pracuje"}
    page = post_form(client, "/admin/badges/new", {**form, "outcome-0-q": "zesp", "form_action": "search:0"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'value="pick:0:esco-skills:0002-teamwork"' in html
    assert "pracować w zespole" in html and 'value="Zespół"' in html  # Polish label; the input is kept
    html = post_form(client, "/admin/badges/new", {**form, "form_action": "pick:0:esco-skills:0002-teamwork"})
    assert CHIPS.findall(html.get_data(as_text=True)) == [("0", "esco-skills:0002-teamwork")]
    form["outcome-0-descriptor"] = "esco-skills:0002-teamwork"
    html = post_form(client, "/admin/badges/new", {**form, "form_action": "add:outcome"}).get_data(as_text=True)
    assert 'name="outcome-1-text_pl"' in html and "Efekt uczenia się 2" in html
    html = post_form(client, "/admin/badges/new", {**form, "form_action": "add:alignment"}).get_data(as_text=True)
    assert 'name="alignment-0-url"' in html
    html = post_form(client, "/admin/badges/new", {**form, "form_action": "unpick:0:esco-skills:0002-teamwork"})
    assert CHIPS.findall(html.get_data(as_text=True)) == []
    html = post_form(client, "/admin/badges/new", {**form, "form_action": "remove:outcome:0"}).get_data(as_text=True)
    assert 'name="outcome-0-text_pl"' not in html
    empty = post_form(client, "/admin/badges/new", {**form, "outcome-0-q": " ", "form_action": "search:0"})
    assert dict(ERROR.findall(empty.get_data(as_text=True))) == {"outcome-0-q": "Wpisz fragment kodu lub nazwy."}
    with ctx.db.session_scope() as s:  # row buttons never save
        assert s.scalar(select(BadgeClass).where(BadgeClass.name == "Zespół")) is None


def test_descriptor_search_endpoint(client, ctx, esco):
    assert client.get("/admin/descriptors?q=zesp").status_code == 302  # signed-in users only
    sign_in(client, "staff-a@example.org")
    items = client.get("/admin/descriptors?q=zesp").get_json()["items"]
    assert [(i["ref"], i["code"], i["label"]) for i in items] == [
        ("esco-skills:0002-teamwork", "0002-teamwork", "pracować w zespole")
    ]
    english = client.get("/admin/descriptors?q=teams&lang=en").get_json()["items"]
    assert [(i["code"], i["label"]) for i in english] == [("0002-teamwork", "work in teams")]
    levels = client.get("/admin/descriptors?q=4").get_json()["items"]  # bundled levels load on first use
    assert {"eqf:4", "prk:4"} <= {i["ref"] for i in levels}
    assert next(i for i in levels if i["ref"] == "eqf:4")["framework"] == "Europejska Rama Kwalifikacji"
    assert client.get("/admin/descriptors?q=").get_json() == {"items": []}


def test_staff_see_the_form_read_only(client, world):
    sign_in(client, "staff-a@example.org")
    page = client.get(f"/admin/badges/{world['a']['badge']}").get_data(as_text=True)
    assert "<fieldset disabled" in page and 'value="save"' not in page
    r = post_form(client, f"/admin/badges/{world['a']['badge']}", {"name": "x", "form_action": "add:outcome"})
    assert r.status_code == 403


def test_issued_credential_carries_the_outcomes_and_alignments(client, ctx, esco):
    sign_in(client, "admin-a@example.org")
    form = _form(esco, quality_assurance_en="Internal quality assurance")
    badge_id = _post(client, "/admin/badges/new", form).headers["Location"].rsplit("/", 1)[-1]
    with _badge(ctx, badge_id) as (s, badge):
        assertion = badges.award(s, ctx, badge, PlatformUser(email="ola@example.org", name="Ola")).assertion
        s.commit()
        cred = ob3.issue(s, ctx, assertion, "data-integrity").document
        achievement = cred["credentialSubject"]["achievement"]
        targets = [(a["targetUrl"], a.get("targetType")) for a in achievement["alignment"]]
        assert targets == [
            ("https://szkola.example.pl/sylabus", None),  # the form's alignment, first
            ("http://data.europa.eu/snb/eqf/4", "ext:EQFLevel"),
            ("https://isap.sejm.gov.pl/isap.nsf/DocDetails.xsp?id=WDU20160000064#prk-4", "ext:PRKLevel"),
            ("http://data.europa.eu/esco/skill/0001-python", "ceasn:Competency"),
            ("http://data.europa.eu/esco/skill/0002-teamwork", "ceasn:Competency"),
        ]
        assert achievement["alignment"][0]["targetDescription"] == "Program szkoły"
        assert achievement["achievementType"] == "MicroCredential" and achievement["creditsAvailable"] == 2.5
        outcomes = achievement["microCredential"]["learningOutcome"]
        assert outcomes[0]["outcomeStatement"] == {"en": "Writes Python programs", "pl": "Pisze programy w Pythonie"}
        assert outcomes[1]["alignedTo"] == ["http://data.europa.eu/esco/skill/0002-teamwork"]
        assert cred["validUntil"] > cred["validFrom"]  # expiry from the form
        doc = ob2.badge_class_json(ctx.urls, badge)
        assert [a["targetName"] for a in doc["alignment"]][:2] == ["Sylabus informatyki", "Poziom 4 ERK"]
    public = client.get(f"/badges/{badge_id}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Pisze programy w Pythonie" in public and "Python (programowanie komputerowe)" in public


# ---- the frameworks and certificates API on flask-smorest ----------------------------------------------


def test_frameworks_and_certificate_operations_are_documented(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    for path, method in (
        ("/api/v1/frameworks", "get"),
        ("/api/v1/frameworks/bundled", "post"),
        ("/api/v1/frameworks/import/esco", "post"),
        ("/api/v1/frameworks/import", "post"),
        ("/api/v1/frameworks/descriptors", "get"),
        ("/api/v1/frameworks/{identifier}/descriptors/{code}", "get"),
        ("/api/v1/frameworks/badges/{badge_id}/outcomes", "put"),
        ("/api/v1/frameworks/badges/{badge_id}/micro-credential", "put"),
        ("/api/v1/frameworks/mappings", "delete"),
        ("/api/v1/issuers/{issuer_id}/certificate-layout", "put"),
        ("/api/v1/issuers/{issuer_id}/signing-certificate", "post"),
    ):
        assert "200" in paths[path][method]["responses"] or "201" in paths[path][method]["responses"], path
    esco = paths["/api/v1/frameworks/import/esco"]["post"]
    assert esco["requestBody"]["content"]["text/csv"]["schema"] == {"type": "string", "format": "binary"}
    assert {p["name"] for p in esco["parameters"]} == {"kind", "language"}
    upload = paths["/api/v1/issuers/{issuer_id}/signing-certificate"]["post"]["requestBody"]["content"]
    assert upload["multipart/form-data"]["schema"]["properties"]["pkcs12"]["format"] == "binary"
    assert "MicroCredentialIn" in doc["components"]["schemas"]


def test_imports_stream_the_body(client, monkeypatch):
    """The import reads the request body as a stream: nothing (webargs, flask-smorest) read it before."""
    from flask import request

    from hub.web import api_frameworks

    seen = {}
    real = importers.import_esco

    def spy(session, stream, **kw):
        seen["cached"] = "_cached_data" in vars(request._get_current_object())
        seen["form"] = "form" in vars(request._get_current_object())
        return real(session, stream, **kw)

    monkeypatch.setattr(api_frameworks.importers, "import_esco", spy)
    body = (DATA / "skills_en.csv").read_bytes()
    r = client.post("/api/v1/frameworks/import/esco?kind=skills&language=en", data=body, headers=ADMIN)
    assert r.status_code == 200 and r.get_json() == {"framework": "esco-skills", "rows": 4, "language": "en"}
    assert seen == {"cached": False, "form": False}
    bad = client.post("/api/v1/frameworks/import/esco?kind=people&language=en", data=body, headers=ADMIN)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def test_frameworks_api_is_scoped(client, ctx, world):
    with ctx.db.session_scope() as s:
        user = s.scalar(select(User).where(User.email == "admin-a@example.org"))
        token = accounts.create_api_token(s, user, name="a", scope="manage")[1]
        reader = accounts.create_api_token(s, user, name="r", scope="read")[1]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.post("/api/v1/frameworks/bundled", headers=auth).status_code == 403  # site administrators
    assert client.post("/api/v1/frameworks/bundled", headers=ADMIN).status_code == 200
    body = (DATA / "skills_en.csv").read_bytes()
    assert (
        client.post("/api/v1/frameworks/import/esco?kind=skills&language=en", data=body, headers=auth).status_code
        == 403
    )
    own = f"/api/v1/frameworks/badges/{world['a']['badge']}/outcomes"
    outcomes = [{"text": {"pl": "Umie"}, "descriptors": ["eqf:4"]}]
    r = client.put(own, json=outcomes, headers=auth)
    assert r.status_code == 200 and r.get_json()["items"] == [
        {"text": {"en": None, "pl": "Umie"}, "descriptors": ["eqf:4"]}
    ]
    assert client.put(own, json={"items": []}, headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    with ctx.db.session_scope() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "badge_class.outcomes")).one()
        assert entry.via == "api" and entry.actor == "admin-a@example.org"
    mapping = {"connector": "lms-a", "outcome_key": "K1", "descriptor": "eqf:4"}
    assert client.post("/api/v1/frameworks/mappings", json=mapping, headers=auth).status_code == 201
    other = {**mapping, "connector": "lms-b"}
    assert client.post("/api/v1/frameworks/mappings", json=other, headers=auth).status_code == 404
    everyone = {**mapping, "connector": None}
    assert client.post("/api/v1/frameworks/mappings", json=everyone, headers=auth).status_code == 403
    assert client.post("/api/v1/frameworks/mappings", json=other, headers=ADMIN).status_code == 201
    listed = client.get("/api/v1/frameworks/mappings", headers=auth).get_json()["items"]
    assert listed == [{"connector": "lms-a", "outcome_key": "K1", "descriptor": "eqf:4"}]
    assert client.delete("/api/v1/frameworks/mappings?connector=lms-b&outcome_key=K1", headers=auth).status_code == 404
    layout = f"/api/v1/issuers/{world['a']['issuer_pid']}/certificate-layout"
    r = client.put(layout, json={"bilingual": True}, headers=auth)
    assert r.status_code == 200 and r.get_json() == {
        "issuer": world["a"]["issuer_pid"],
        "custom_template": False,
        "bilingual": True,
    }
