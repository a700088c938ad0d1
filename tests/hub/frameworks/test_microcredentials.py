"""EU micro-credentials end to end: the "Done when" of issue 5 over the real app, both credential
formats, the refusal of incomplete descriptions in English and Polish, and the public pages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.types import PlatformUser
from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass
from hub.credentials import dataintegrity, ob2, ob3, ob3keys
from hub.frameworks import microcredentials
from hub.frameworks.microcredentials import MANDATORY, MicroCredentialIncomplete
from tests.conftest import SHARED_REF, completion, post_event

DATA = Path(__file__).parent / "data"
AUTH = {"Authorization": "Bearer admin-token"}
PYTHON = "esco-skills:0001-python"
TEAMWORK = "esco-skills:0002-teamwork"

DESCRIPTION = {
    "ects": 5,
    "workload_hours": 125,
    "issuer_country": "PL",
    "issuer_region": "łódzkie",
    "awarding_bodies": [{"name": "Szkoła Łódź", "url": "https://szkola.example.pl", "country": "PL"}],
    "eqf_level": 4,
    "prk_level": 4,
    "assessment_type": {"en": "Practical project, reviewed", "pl": "Projekt praktyczny z recenzją"},
    "participation_form": "blended",
    "quality_assurance": {"en": "Internal QA under the Act on Higher Education", "pl": "Wewnętrzny system jakości"},
    "prerequisites": {"pl": "Brak"},
    "supervision": "supervised-online-identity-verification",
    "stackability": "stackable",
    "stackable_towards": "https://szkola.example.pl/programmes/it",
    "grading_scheme": {"en": "Polish scale 2-5", "pl": "Skala 2-5"},
    "further_information": {"en": "https://szkola.example.pl/mc"},
    "in_language": "pl",
    "learning_outcomes": [
        {"text": {"en": "Writes Python programs", "pl": "Pisze programy w Pythonie"}, "descriptors": [PYTHON]},
        {"text": {"en": "Works in a team", "pl": "Pracuje w zespole"}, "descriptors": [TEAMWORK, "eqf:4"]},
    ],
}


def import_esco_via_api(client, name: str, language: str):
    body = (DATA / name).read_bytes()
    r = client.post(f"/api/v1/frameworks/import/esco?kind=skills&language={language}", data=body, headers=AUTH)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@pytest.fixture
def micro(client, factory):
    """An administrator's set-up through the API: bundled levels, ESCO (en + pl), a badge class described
    as a micro-credential at EQF 4 / PRK 4 with two ESCO skills, and Moodle competency mappings."""
    mapping = {**factory_mapping(), "outcomes": "competencies"}
    ids = factory.setup(mapping=mapping, badge_name="Programowanie w Pythonie")
    assert client.post("/api/v1/frameworks/bundled", headers=AUTH).get_json()["loaded"] == {"eqf": 8, "prk": 8}
    assert import_esco_via_api(client, "skills_en.csv", "en")["rows"] == 4
    assert import_esco_via_api(client, "skills_pl.csv", "pl")["rows"] == 4
    r = client.put(f"/api/v1/frameworks/badges/{ids['badge']}/micro-credential", json=DESCRIPTION, headers=AUTH)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["missing"] == [] and r.get_json()["micro_credential"] is True
    for key, ref in (("PY-1", PYTHON), ("TEAM-1", TEAMWORK)):
        body = {"connector": ids["connector"], "outcome_key": key, "descriptor": ref}
        assert client.post("/api/v1/frameworks/mappings", json=body, headers=AUTH).status_code == 201
    return ids


def factory_mapping():
    from hub.demo import MOODLE_MAPPING

    return dict(MOODLE_MAPPING)


@pytest.fixture
def sessions(ctx):
    """Opens sessions for a test and closes them when it ends, also when it fails or skips half-way (an
    open SQLite transaction would lock the file for the next test's clean-up)."""
    opened = []

    def open_session():
        opened.append(ctx.db.Session())
        return opened[-1]

    yield open_session
    for session in opened:
        session.close()


def issued(sessions, badge_public_id):
    s = sessions()
    badge = s.scalar(select(BadgeClass).where(BadgeClass.public_id == badge_public_id))
    a = s.scalar(select(Assertion).where(Assertion.badge_class_id == badge.id))
    return s, badge, a


def verify_di(session, ctx, doc):
    issuer = session.scalar(select(BadgeClass)).issuer  # one issuer in these tests

    def resolve(vm):
        key = ob3keys.load_signing_key(session, ctx, issuer, "Ed25519")
        assert vm == key.vm_id
        return ob3keys.public_from_multikey(ob3keys.ed25519_multikey(ob3keys.ensure_key(session, ctx, issuer)))

    return dataintegrity.verify_proof(doc, resolve)


def test_done_when_scenario_end_to_end(client, ctx, micro, sessions):
    # A learner completes the course in Moodle with two competencies (one unmapped) -> webhook -> award.
    payload = completion(competencies=["PY-1", "TEAM-1", "UNMAPPED"])
    assert post_event(client, payload).status_code in (200, 202)
    s, badge, a = issued(sessions, micro["badge"])
    assert a is not None, "the micro-credential was not issued"
    s.close()  # SQLite: no transaction held open while the app serves requests

    # OB 2.0: the BadgeClass carries the levels and the skills as alignments (no targetType in 2.0).
    doc = client.get(f"/badges/{micro['badge']}", headers={"Accept": "application/ld+json"}).get_json(force=True)
    urls = [x["targetUrl"] for x in doc["alignment"]]
    assert urls == [
        "http://data.europa.eu/snb/eqf/4",
        "https://isap.sejm.gov.pl/isap.nsf/DocDetails.xsp?id=WDU20160000064#prk-4",
        "http://data.europa.eu/esco/skill/0001-python",
        "http://data.europa.eu/esco/skill/0002-teamwork",
    ]
    assert doc["alignment"][0] == {
        "targetName": "Poziom 4 ERK",
        "targetUrl": "http://data.europa.eu/snb/eqf/4",
        "targetDescription": doc["alignment"][0]["targetDescription"],
        "targetFramework": "Europejska Rama Kwalifikacji",
        "targetCode": "4",
    }
    assert doc["alignment"][2]["targetName"] == "Python (programowanie komputerowe)"  # in_language pl

    # Public pages, both languages.
    html = {"Accept": "text/html"}
    pl = client.get(f"/badges/{micro['badge']}?lang=pl", headers=html).get_data(as_text=True)
    en = client.get(f"/badges/{micro['badge']}?lang=en", headers=html).get_data(as_text=True)
    assert "Efekty uczenia się" in pl and "Pisze programy w Pythonie" in pl and "Mikropoświadczenie UE" in pl
    assert "Poziom 4 ERK" in pl and "mieszana" in pl and "5 pkt ECTS" in pl
    assert "Learning outcomes" in en and "Writes Python programs" in en and "EQF level 4" in en and "blended" in en
    page = client.get(f"/assertions/{a.public_id}?lang=pl", headers=html).get_data(as_text=True)
    assert "Osiągnięte efekty uczenia się" in page and "Python (programowanie komputerowe)" in page
    # OB 3.0: every element, signed, and the proof verifies.
    s, badge, a = issued(sessions, micro["badge"])
    assert ob2.assertion_json(ctx.urls, a)["badge"] == doc["id"]
    cred = ob3.issue(s, ctx, a, "data-integrity").document
    assert cred["@context"][-1] == ctx.urls.context("badgehub-microcredential-v1.jsonld")
    ach = cred["credentialSubject"]["achievement"]
    assert ach["achievementType"] == "MicroCredential" and ach["name"] == "Programowanie w Pythonie"
    assert ach["creditsAvailable"] == 5 and isinstance(ach["creditsAvailable"], int)
    types = {x["targetUrl"]: x.get("targetType") for x in ach["alignment"]}
    assert types["http://data.europa.eu/snb/eqf/4"] == "ext:EQFLevel"
    assert types["https://isap.sejm.gov.pl/isap.nsf/DocDetails.xsp?id=WDU20160000064#prk-4"] == "ext:PRKLevel"
    assert types["http://data.europa.eu/esco/skill/0001-python"] == "ceasn:Competency"
    mc = ach["microCredential"]
    assert mc["issuerCountry"] == "PL" and mc["issuerRegion"] == "łódzkie"
    assert mc["awardingBody"] == [
        {"type": ["AwardingBody"], "name": "Szkoła Łódź", "url": "https://szkola.example.pl", "addressCountry": "PL"}
    ]
    assert mc["learningOutcome"][1] == {
        "type": ["LearningOutcome"],
        "outcomeStatement": {"en": "Works in a team", "pl": "Pracuje w zespole"},
        "alignedTo": ["http://data.europa.eu/snb/eqf/4", "http://data.europa.eu/esco/skill/0002-teamwork"],
    }
    for key, value in {
        "creditSystem": "ECTS",
        "workloadHours": 125,
        "eqfLevel": 4,
        "prkLevel": 4,
        "participationForm": "blended",
        "assessmentType": DESCRIPTION["assessment_type"],
        "qualityAssurance": DESCRIPTION["quality_assurance"],
        "prerequisites": {"pl": "Brak"},
        "supervision": "supervised-online-identity-verification",
        "stackability": "stackable",
        "stackableTowards": "https://szkola.example.pl/programmes/it",
        "gradingScheme": DESCRIPTION["grading_scheme"],
        "furtherInformation": {"en": "https://szkola.example.pl/mc"},
    }.items():
        assert mc[key] == value, key
    achieved = cred["credentialSubject"]["result"]
    assert [x["targetCode"] for x in achieved[0]["alignment"]] == ["0001-python", "0002-teamwork"]
    assert verify_di(s, ctx, cred)
    assert cred["validFrom"] and cred["credentialSubject"]["identifier"][0]["identityHash"].startswith("sha256$")

    # Both canonicalisation paths agree on the extension (fast templates vs pyld).
    from hub.credentials import fastcanon, jsonld

    assert fastcanon.FastCanonicalizer().canonize(cred) == jsonld.canonize_general(cred)

    # The extension's context is served by the hub, byte for byte as pinned.
    s.commit()
    r = client.get("/contexts/badgehub-microcredential-v1.jsonld")
    assert r.status_code == 200 and r.mimetype == "application/ld+json"
    assert json.loads(r.data) == jsonld.hosted_contexts()["badgehub-microcredential-v1.jsonld"]
    schema_check(cred)

    s.close()


def schema_check(cred: dict) -> None:
    schema_file = SHARED_REF / "ob_v3p0_achievementcredential_schema.json"
    if not schema_file.exists():
        pytest.skip("../shared/ref/ob_v3p0_achievementcredential_schema.json is absent: schema check skipped")
    import jsonschema

    schema = json.loads(schema_file.read_text())
    jsonschema.validate(cred, schema, cls=jsonschema.Draft201909Validator)


def test_grade_round_trips_as_a_result(client, ctx, micro, sessions):
    s, badge, _ = issued(sessions, micro["badge"])
    user = PlatformUser(email="jan@example.pl", name="Jan")
    a = badges.award(s, ctx, badge, user, source_key="manual:1", grade="5 (bardzo dobry)").assertion
    s.commit()
    page = client.get(f"/assertions/{a.public_id}?lang=en", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert "Grade achieved" in page and "5 (bardzo dobry)" in page
    cred = ob3.issue(s, ctx, a, "data-integrity").document
    ach = cred["credentialSubject"]["achievement"]
    rd = ach["resultDescription"][0]
    assert rd == {
        "id": ob3.grade_description_id(ctx, badge),
        "type": ["ResultDescription"],
        "name": "Uzyskana ocena",
        "resultType": "ext:Grade",
    }
    assert cred["credentialSubject"]["result"] == [
        {"type": ["Result"], "resultDescription": rd["id"], "value": "5 (bardzo dobry)"}
    ]
    assert verify_di(s, ctx, cred)
    schema_check(cred)
    jwt = ob3.issue(s, ctx, a, "vc-jwt").text
    assert jwt.count(".") == 2
    s.close()


@pytest.mark.parametrize("element", [k for k in MANDATORY if k != "issued_on"])
def test_each_missing_mandatory_element_is_refused(app, ctx, micro, element, sessions):
    s, badge, _ = issued(sessions, micro["badge"])
    mc = microcredentials.description_of(s, badge)
    details = microcredentials.details_of(s, badge)
    email = "ola@example.pl"
    if element == "learner":
        email = None
    elif element == "title":
        badge.name = ""
    elif element == "issuer_country":
        mc.issuer_country = None
    elif element == "awarding_bodies":
        mc.awarding_bodies = []
    elif element == "learning_outcomes":
        microcredentials.fw.set_learning_outcomes(s, badge, [])
    elif element == "workload":
        details.credits_available, mc.workload_hours = None, None
    elif element == "level":
        mc.eqf_level = mc.prk_level = None
    else:
        setattr(mc, element, None)
    s.flush()
    with pytest.raises(MicroCredentialIncomplete) as info:
        badges.award(s, ctx, badge, PlatformUser(email=email), source_key=f"k:{element}")
    assert info.value.extra["missing"] == [element]
    assert str(MANDATORY[element]) in info.value.detail  # English outside a request
    with app.test_request_context("/", headers={"Accept-Language": "pl"}):
        with pytest.raises(MicroCredentialIncomplete) as info:
            badges.award(s, ctx, badge, PlatformUser(email=email), source_key=f"k:{element}")
        polish = str(MANDATORY[element])
        detail = str(info.value.detail)  # rendered in the request's language
    assert polish != str(MANDATORY[element]) or element == "learner"  # evaluated in Polish inside the request
    assert detail.startswith("Nie można wydać tego mikropoświadczenia") and polish in detail
    assert str(info.value).startswith("This micro-credential cannot be issued")  # logs stay English
    s.rollback()
    s.close()


def test_polish_element_names():
    from flask import Flask

    from hub import i18n

    app = Flask(__name__)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(i18n.compile_catalogues(Path(__import__("tempfile").mkdtemp())))
    from flask_babel import Babel, force_locale

    Babel(app)
    with app.app_context(), force_locale("pl"):
        assert str(MANDATORY["level"]) == "poziom (ERK)"
        assert str(MANDATORY["learner"]) == "identyfikacja osoby uczącej się"


def test_description_is_validated(client, micro):
    url = f"/api/v1/frameworks/badges/{micro['badge']}/micro-credential"
    for body, field in (
        ({"eqf_level": 9}, "eqf_level"),
        ({"eqf_level": 4, "prk_level": 5}, "prk_level"),
        ({"issuer_country": "Poland"}, "issuer_country"),
        ({"participation_form": "by post"}, "participation_form"),
        ({"ects": -1}, "ects"),
        ({"awarding_bodies": [{"url": "https://x.pl"}]}, "awarding_bodies[0]"),
        ({"assessment_type": {"de": "Prüfung"}}, "assessment_type"),
        ({"learning_outcomes": [{"descriptors": ["eqf:4"]}]}, "outcomes[0]"),
    ):
        r = client.put(url, json=body, headers=AUTH)
        assert r.status_code == 422, (body, r.get_json())
        assert r.get_json()["field"] == field
    r = client.put(url, json={"learning_outcomes": [{"text": "x", "descriptors": ["esco-skills:nope"]}]}, headers=AUTH)
    assert r.status_code == 422 and r.get_json()["field"] == "descriptor"  # an unknown reference is bad input
    got = client.get(url, headers={**AUTH, "Accept-Language": "pl"}).get_json()
    assert got["missing"] == [] and got["eqf_level"] == 4


def test_api_search_mappings_and_auth(client, micro):
    r = client.get("/api/v1/frameworks/descriptors?q=zesp", headers=AUTH).get_json()
    assert [d["code"] for d in r["items"]] == ["0002-teamwork"]
    assert client.get("/api/v1/frameworks/descriptors?q=zesp").status_code == 401
    assert client.get("/api/v1/frameworks/eqf/descriptors/4", headers=AUTH).get_json()["level"] == 4
    assert client.get("/api/v1/frameworks/eqf/descriptors/9", headers=AUTH).status_code == 404
    items = client.get("/api/v1/frameworks", headers=AUTH).get_json()["items"]
    assert {f["identifier"]: f["descriptors"] for f in items} == {"eqf": 8, "esco-skills": 4, "prk": 8}
    maps = client.get("/api/v1/frameworks/mappings", headers=AUTH).get_json()["items"]
    assert {(m["outcome_key"], m["descriptor"]) for m in maps} == {("PY-1", PYTHON), ("TEAM-1", TEAMWORK)}
    r = client.delete(f"/api/v1/frameworks/mappings?connector={micro['connector']}&outcome_key=PY-1", headers=AUTH)
    assert r.get_json() == {"removed": 1}
    bad = client.post("/api/v1/frameworks/import/esco?kind=skills&language=en", data=b"a,b\n1,2\n", headers=AUTH)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["where"] == "line 1"


def test_numbers_that_would_not_canonicalise_alike_are_refused_at_every_door(app, client, micro, ctx):
    """The portable form (hub.credentials.numbers): at most two decimals, 0.01-10,000; the API and the
    CLI go through the same operation and say which field and why; nothing is half-written."""
    url = f"/api/v1/frameworks/badges/{micro['badge']}/micro-credential"
    for body, field in (
        ({"ects": 1e-07}, "ects"),
        ({"ects": 2.555}, "ects"),
        ({"workload_hours": 0.001}, "workload_hours"),
        ({"workload_hours": 10_000.5}, "workload_hours"),
    ):
        r = client.put(url, json={**body, "issuer_country": "DE"}, headers={**AUTH, "Accept-Language": "en"})
        assert r.status_code == 422, (body, r.get_json())
        assert r.get_json()["field"] == field and "two decimal places" in r.get_json()["detail"]
    got = client.get(url, headers=AUTH).get_json()
    assert got["issuer_country"] == "PL"  # the refused request changed nothing
    # JSON wants a JSON number (a decimal comma is for the console's text fields); float noise is fine
    assert client.put(url, json={"ects": "2,5"}, headers=AUTH).status_code == 422
    ok = client.put(url, json={"ects": 2.5, "workload_hours": 0.1 + 0.2}, headers=AUTH)
    assert ok.status_code == 200 and (ok.get_json()["ects"], ok.get_json()["workload_hours"]) == (2.5, 0.3)
    runner = app.test_cli_runner()
    from hub.cli import main

    refused = runner.invoke(main, ["badges", "micro-credential", micro["badge"], "-"], input='{"ects": 1e-7}')
    assert refused.exit_code == 1 and "two decimal places" in refused.output and "(field ects)" in refused.output
    done = runner.invoke(main, ["badges", "micro-credential", micro["badge"], "-"], input='{"ects": 6}')
    assert done.exit_code == 0 and "missing: nothing" in done.output, done.output
    with ctx.db.session_scope() as s:
        a = s.query(BadgeClass).filter_by(public_id=micro["badge"]).one()
        assert microcredentials.details_of(s, a).credits_available == 6
