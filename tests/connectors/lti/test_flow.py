"""End to end over real HTTP: instructor and learner launches, linking, roster (NRPS, paged), awards,
score posts (AGS), revocation, grade and completion rules, deep linking, Polish pages."""

from __future__ import annotations

import base64
import json

import requests

from hub.credentials.verify import verify_hosted

from .conftest import ADMIN
from .platform import forms


def _form(page, action_suffix: str) -> dict:
    return next(f for f in forms(page) if f["action"].endswith(action_suffix))


def _post(browser, page, action_suffix, **fields):
    form = _form(page, action_suffix)
    data = {**form["fields"], **fields}
    return browser.http.post(form["action"], data=data, timeout=20)


def test_instructor_links_awards_and_learner_sees_verifiable_badge(world):
    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    assert page.status_code == 200 and "Badges in this course" in page.text
    assert "Bezpieczeństwo w sieci" in page.text
    # The roster came through NRPS over two pages (page size 2, four members): all three learners.
    for name in ("Łukasz Wójcik", "Zofia Gęśla", "Jan Bezmaila"):
        assert name in page.text
    page = _post(teacher, page, "/lti/course/link", badge=world.badges["safe"])
    assert "Badge linked to the course." in page.text
    page = _post(teacher, page, "/lti/course/rule", rule="manual", post_scores="1")
    assert "Award rule saved." in page.text
    form = _form(page, "/lti/course/award")
    r = teacher.http.post(
        form["action"],
        data={"launch": form["fields"]["launch"], "badge": world.badges["safe"], "member": ["4", "5"]},
        timeout=20,
    )
    assert "Badges awarded: 2." in r.text, r.text
    # A completed score went to a line item tagged for the badge (created by the tool).
    tags = [i.get("tag") for i in world.platform.lineitems.values()]
    assert tags == [f"badgehub:{world.badges['safe']}"]
    assert {s["userId"] for s in world.platform.scores} == {"4", "5"}
    assert all(
        s["activityProgress"] == "Completed" and s["gradingProgress"] == "FullyGraded" for s in world.platform.scores
    )
    # Awarding again is idempotent.
    r2 = teacher.http.post(
        form["action"], data={"launch": form["fields"]["launch"], "badge": world.badges["safe"], "member": "4"}
    )
    assert "Badges awarded: 0." in r2.text

    learner = world.browser()
    mine = learner.launch(world.platform, "4")
    assert "My badges" in mine.text and "Bezpieczny w sieci" in mine.text
    assertion_ids = [f.split('"')[0] for f in mine.text.split('data-assertion="')[1:]]
    assert len(assertion_ids) == 1
    aid = assertion_ids[0]
    base = world.hub
    for url in (f"{base}/assertions/{aid}", f"{base}/assertions/{aid}/baked.png", f"{base}/credentials/{aid}"):
        assert url in mine.text
    report = verify_hosted(f"{base}/assertions/{aid}", email="lukasz.wojcik@example.org")
    assert report.valid, report.errors
    credential = requests.get(f"{base}/credentials/{aid}", headers={"Accept": "application/vc+ld+json"}, timeout=10)
    assert credential.status_code == 200
    doc = credential.json()
    ids = json.dumps(doc["credentialSubject"])
    assert "ltiUserId" in ids  # the LMS identity recorded with the award
    assert "linkedin.com/sharing" in mine.text

    # The teacher sees and revokes it; the learner no longer lists it.
    page = teacher.http.get(f"{base}/lti/course", params={"launch": form["fields"]["launch"]})
    revoke = next(
        f for f in forms(page) if f["action"].endswith("/lti/course/revoke") and f["fields"]["assertion"] == aid
    )
    r = teacher.http.post(revoke["action"], data={**revoke["fields"], "reason": "Pomyłka"})
    assert "Badge revoked." in r.text
    mine2 = world.browser().launch(world.platform, "4")
    assert aid not in mine2.text and "Still to earn in this course" in mine2.text


def test_learner_cannot_use_instructor_actions_and_pages_expire(world):
    learner = world.browser()
    page = learner.launch(world.platform, "4")
    assert page.status_code == 200
    launch_id = page.text.split('name="launch" value="')[1].split('"')[0] if 'name="launch"' in page.text else None
    # A learner page has no forms with a launch id; find it by opening the course page with a guess.
    r = learner.http.post(
        f"{world.hub}/lti/course/link", data={"launch": launch_id or "x", "badge": world.badges["safe"]}
    )
    assert r.status_code == 403
    r = learner.http.get(f"{world.hub}/lti/course", params={"launch": "not-a-launch"})
    assert r.status_code == 403 and "expired" in r.text


def test_grade_rule_reads_ags_results(world):
    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    page = _post(teacher, page, "/lti/course/link", badge=world.badges["passwords"])
    page = _post(teacher, page, "/lti/course/rule", rule="grade", threshold="60")
    assert "Award rule saved." in page.text, page.text
    world.platform.results["1"] = {"4": 80, "5": 40, "6": 95}  # 6 shares no e-mail; results come in pages of 2
    page = _post(teacher, page, "/lti/course/sync")
    assert "1 awarded, 1 below the threshold" in page.text, page.text
    assert "Łukasz Wójcik" in page.text.split("Awarded in this course")[1]


def test_completion_rule_through_the_inbox(world):
    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    page = _post(teacher, page, "/lti/course/link", badge=world.badges["safe"])
    page = _post(teacher, page, "/lti/course/rule", rule="completion")
    body = {
        "registration": world.registration_id(),
        "context_id": world.platform.context_id,
        "sub": "5",
        "email": "zofia@example.org",
        "name": "Zofia Gęśla",
    }
    r = requests.post(f"{world.hub}/api/v1/lti/completions", json=body, headers=ADMIN, timeout=10)
    assert r.status_code == 202, r.text
    assert requests.post(f"{world.hub}/api/v1/lti/completions", json=body, headers=ADMIN).json()["duplicate"] is True
    mine = world.browser().launch(world.platform, "5")
    assert "Bezpieczny w sieci" in mine.text.split("Earned")[1].split("Still to earn")[0]


def test_deep_linking_round_trip(world):
    teacher = world.browser()
    page = teacher.launch(world.platform, "10", kind="deeplink")
    assert "Add a badge to the course" in page.text
    choice = next(f for f in forms(page) if f["fields"].get("badge") == world.badges["passwords"])
    auto = teacher.http.post(choice["action"], data=choice["fields"], timeout=20)
    form = forms(auto)[0]
    assert form["action"] == f"{world.platform.base}/deep_link_return"
    token = form["fields"]["JWT"]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == 300 and claims["iat"] < claims["exp"]
    saved = teacher.http.post(form["action"], data=form["fields"], timeout=10)  # the platform verifies it
    assert saved.text == "saved"
    (item,) = world.platform.deep_link_items
    assert item["type"] == "ltiResourceLink"
    assert item["custom"] == {"badge_class": world.badges["passwords"]}
    assert "?" not in item["url"] and item["url"].endswith("/lti/launch")
    # The placement launches with the custom parameter: the learner sees that badge's criteria first.
    mine = world.browser().launch(world.platform, "4", custom=item["custom"])
    assert mine.text.index(f'data-badge="{world.badges["passwords"]}"') > 0


def test_pages_follow_the_locale_claim(world):
    world.platform.locale = "pl-PL"
    page = world.browser().launch(world.platform, "10")
    assert "Odznaki w tym kursie" in page.text
    assert '<html lang="pl">' in page.text


def test_pages_in_the_lms_speak_polish_and_english_errors_and_dates_included(world, caplog):
    """The course page shows a refused form (a service's message) and the award dates in the language
    of the launch's ``locale`` claim, whatever the browser asks for; the log stays English."""
    import logging
    import re

    world.platform.locale = "pl-PL"
    teacher = world.browser()  # Accept-Language: en
    page = teacher.launch(world.platform, "10")
    page = _post(teacher, page, "/lti/course/link", badge=world.badges["safe"])
    assert "Odznakę powiązano z kursem." in page.text
    caplog.set_level(logging.INFO)
    refused = _post(teacher, page, "/lti/course/rule", rule="grade", threshold="0")
    assert refused.status_code == 422
    assert "próg oceny musi wynosić więcej niż 0 i najwyżej 100 procent" in refused.text
    refused = _post(teacher, page, "/lti/course/rule", rule="grade", threshold="dużo")
    assert "Próg oceny musi być liczbą procent." in refused.text
    assert not any("próg" in r.getMessage().lower() for r in caplog.records)

    form = _form(page, "/lti/course/award")
    awarded = teacher.http.post(
        form["action"], data={"launch": form["fields"]["launch"], "badge": world.badges["safe"], "member": "4"}
    )
    assert "Przyznane odznaki: 1." in awarded.text
    issued = awarded.text.split('class="lti-issued"')[1]
    assert re.search(r'\(<time datetime="\d{4}-\d\d-\d\dT[^"]+">\d{1,2} [a-ząćęłńóśźż]+ \d{4}</time>\)', issued)
    mine = world.browser().launch(world.platform, "4")
    assert re.search(r"Wydana \d{1,2} [a-ząćęłńóśźż]+ \d{4}<", mine.text), mine.text

    world.platform.locale = "en-GB"
    mine = world.browser().launch(world.platform, "4")
    assert re.search(r"Issued on [A-Z][a-z]+ \d{1,2}, \d{4}<", mine.text)
    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    assert re.search(r'\(<time datetime="[^"]+">[A-Z][a-z]{2} \d{1,2}, \d{4}</time>\)', page.text)
    refused = _post(teacher, page, "/lti/course/rule", rule="grade", threshold="0")
    assert "the grade threshold must be more than 0 and at most 100 percent" in refused.text
