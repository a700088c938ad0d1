"""Moodle's own ways of going wrong (issue 14), over real HTTP against the Moodle-shaped platform.

- A leftover LTI 1.1 consumer key on the activity: Moodle signs the id_token with that key as ``aud``.
- Two registrations with one issuer and a login initiation without ``client_id`` (MDL-74221).
- The roster (NRPS) is read once for a launch, a saved rule and an award.
- A refused token request: the log line quotes the platform's reason.
"""

from __future__ import annotations

import logging

import requests

from .conftest import ADMIN, Console
from .platform import forms


def _post(browser, page, action_suffix, **fields):
    form = next(f for f in forms(page) if f["action"].endswith(action_suffix))
    return browser.http.post(form["action"], data={**form["fields"], **fields}, timeout=20)


def test_an_lti_11_consumer_key_as_audience_is_named_with_its_fix(world, people, caplog):
    world.platform.registration.tamper = lambda p: {**p, "aud": "moodle-lti11-key"}
    caplog.set_level(logging.WARNING, logger="connectors.lti")
    r = world.browser().launch(world.platform, "4")
    assert r.status_code == 401
    assert "set up wrongly" in r.text and "Consumer key" in r.text and "open the tool again" not in r.text.lower()
    logged = " ".join(rec.getMessage() for rec in caplog.records)
    assert "'moodle-lti11-key'" in logged and "clear 'Consumer key'" in logged and "Odznaki kursu" in logged
    # The administrator sees the same fix on the registration's page.
    site = Console(world.hub, people["site"])
    page = site.get(f"/admin/lti/registrations/{world.registration_id()}")
    problem = page.text.split('id="launch-problem"')[1].split("</p>")[0]
    assert "moodle-lti11-key" in problem and "clear Consumer key and Shared secret" in problem
    assert "Odznaki kursu" in problem  # which activity
    # Once the key is cleared, the launch works.
    world.platform.registration.tamper = None
    assert world.browser().launch(world.platform, "4").status_code == 200


def test_two_registrations_of_one_issuer_and_a_login_without_client_id(world, caplog):
    p = world.platform
    second = {**p.hub_registration(badge_issuer=world.badges.issuer), "client_id": "second-school", "name": "B"}
    r = requests.post(f"{world.hub}/api/v1/lti/registrations", json=second, headers=ADMIN, timeout=10)
    assert r.status_code == 201, r.text
    caplog.set_level(logging.WARNING, logger="connectors.lti")
    no_client = {"iss": p.iss, "login_hint": "4", "target_link_uri": f"{world.hub}/lti/launch"}
    english = {"Accept-Language": "en"}
    refused = requests.get(
        f"{world.hub}/lti/login", params=no_client, headers=english, allow_redirects=False, timeout=10
    )
    assert refused.status_code == 401
    assert "several registrations for this learning platform" in refused.text
    logged = " ".join(rec.getMessage() for rec in caplog.records)
    assert "2 registrations share this issuer" in logged and "Initiate login URL" in logged
    # The registration's own login URL (what dynamic registration sends) names it without client_id.
    regs = requests.get(f"{world.hub}/api/v1/lti/registrations", headers=ADMIN, timeout=10).json()["items"]
    first = next(r["id"] for r in regs if r["client_id"] == p.client_id)
    ok = requests.get(f"{world.hub}/lti/login/{first}", params=no_client, allow_redirects=False, timeout=10)
    assert ok.status_code == 302 and f"client_id={p.client_id}" in ok.headers["Location"]
    # ...and only for its own platform.
    elsewhere = {**no_client, "iss": "https://other.example.edu"}
    assert requests.get(f"{world.hub}/lti/login/{first}", params=elsewhere, timeout=10).status_code == 401


def test_one_roster_read_for_a_launch_a_saved_rule_and_an_award(world):
    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    one_read = world.platform.roster_reads  # one roster: its NRPS pages (page size 2, four members)
    assert one_read > 0
    page = _post(teacher, page, "/lti/course/link", badge=world.badges["safe"])
    page = _post(teacher, page, "/lti/course/rule", rule="manual")
    assert "Award rule saved." in page.text
    form = next(f for f in forms(page) if f["action"].endswith("/lti/course/award"))
    done = teacher.http.post(
        form["action"], data={"launch": form["fields"]["launch"], "badge": world.badges["safe"], "member": "4"}
    )
    assert "Badges awarded: 1." in done.text
    assert world.platform.roster_reads == one_read


def test_a_refused_token_request_quotes_the_platform(world, caplog):
    world.platform.token_refusal = (
        401,
        {"error": "invalid_client", "error_description": "The client is not authorised (curlsecurityblockedhosts)"},
    )
    caplog.set_level(logging.WARNING, logger="connectors.lti")
    page = world.browser().launch(world.platform, "10")
    assert page.status_code == 200  # the course page shows, without the roster
    logged = [rec.getMessage() for rec in caplog.records if "token request" in rec.getMessage()]
    assert logged and "HTTP 401" in logged[0] and "'invalid_client'" in logged[0]
    assert "The client is not authorised (curlsecurityblockedhosts)" in logged[0]
