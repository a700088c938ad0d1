"""The LTI console screens over real HTTP, with the lti1p3platform platform: approving what waits (a
refused launch becomes an accepted one), the manual registration form, one registration's page, tool
key rotation, CSRF, the audit log, Polish, and that only site administrators see any of it."""

from __future__ import annotations

import html
import re

import pytest
import requests

from hub.accounts.models import AuditEntry

from .conftest import Console
from .platform import forms

DEPLOYMENT = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"


def _audit(app, action: str) -> list[AuditEntry]:
    with app.extensions["hub"].db.session_scope() as s:
        rows = s.query(AuditEntry).filter_by(action=action).order_by(AuditEntry.id).all()
        s.expunge_all()
        return rows


def _form(page: requests.Response, action_part: str, **match) -> dict:
    """The page's form whose action contains ``action_part`` (and whose hidden fields equal ``match``)."""
    found = [
        f for f in forms(page) if action_part in f["action"] and all(f["fields"].get(k) == v for k, v in match.items())
    ]
    assert found, f"no form {action_part} {match} in {[f['action'] for f in forms(page)]}"
    return found[0]


def _submit(console: Console, page: requests.Response, action_part: str, **match) -> requests.Response:
    form = _form(page, action_part, **match)
    return console.http.post(form["action"], data=form["fields"], timeout=20)


def _text(page: requests.Response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page.text))


def test_approving_a_pending_deployment_turns_a_refused_launch_into_an_accepted_one(world, people):
    world.platform.registration.tamper = lambda claims: {**claims, DEPLOYMENT: "99"}
    refused = world.browser().launch(world.platform, "4")
    assert refused.status_code == 401 and "not yet approved" in refused.text

    site = Console(world.hub, people["site"])
    listing = site.get("/admin/lti/")
    assert listing.status_code == 200
    waiting = listing.text.split('id="pending-deployments"')[1].split("</table>")[0]
    assert "<code>99</code>" in waiting and "Approve" in waiting
    done = _submit(site, listing, "/admin/lti/deployments/", status="active")
    assert done.status_code == 200 and done.url.endswith("/admin/lti/")
    assert "Deployment approved." in done.text and 'id="pending-deployments"' not in done.text

    accepted = world.browser().launch(world.platform, "4")
    assert accepted.status_code == 200 and "You have not earned any badges yet." in accepted.text
    (entry,) = _audit(world.app, "lti_deployment.approve")
    assert entry.actor == people["site"] and entry.via == "console"
    assert entry.before == {"status": "pending"} and entry.after["status"] == "active"
    assert entry.after["deployment_id"] == "99" and entry.after["registration"] == world.registration_id()


def test_deactivating_a_deployment_refuses_its_launches(world, people):
    site = Console(world.hub, people["site"])
    page = site.get(f"/admin/lti/registrations/{world.registration_id()}")
    done = _submit(site, page, "/admin/lti/deployments/", status="inactive")
    assert "Deployment deactivated." in done.text and "launches refused" in done.text
    assert world.browser().launch(world.platform, "4").status_code == 401
    (entry,) = _audit(world.app, "lti_deployment.deactivate")
    assert entry.before == {"status": "active"} and entry.after["status"] == "inactive"
    page = _submit(site, done, "/admin/lti/deployments/", status="active")
    assert world.browser().launch(world.platform, "4").status_code == 200


def test_dynamic_registration_waits_for_the_console_then_launches(hub_server, bare_platform, people):
    app, hub = hub_server
    p = bare_platform
    r = requests.get(
        f"{hub}/lti/register",
        params={
            "openid_configuration": f"{p.base}/.well-known/openid-configuration",
            "registration_token": p.registration_token,
        },
        headers={"Accept": "text/html", "Accept-Language": "en"},
        timeout=20,
    )
    assert r.status_code == 200
    from .platform import Browser

    assert Browser().open_from_platform(p, "10").status_code == 401
    site = Console(hub, people["site"])
    listing = site.get("/admin/lti/")
    waiting = listing.text.split('id="pending-registrations"')[1].split("</table>")[0]
    assert p.base in waiting and "dyn-client-7" in waiting
    page = site.get(re.search(r'href="(/admin/lti/registrations/[^"]+)"', waiting).group(1))
    assert "registered itself" in page.text and "Reject" in page.text
    assert 'name="badge_issuer" required' in page.text and "Związek Sportowy" in page.text
    refused = _submit(site, page, "/status", status="active")  # no issuer chosen
    assert "Could not save: Choose the issuer this platform belongs to" in _text(refused)
    assert "pending approval" in refused.text and not _audit(app, "lti_registration.approve")
    from .conftest import make_badges

    ids = make_badges(app.extensions["hub"])
    form = _form(page, "/status", status="active")
    done = site.http.post(form["action"], data={**form["fields"], "badge_issuer": ids.issuer}, timeout=20)
    assert "Registration approved." in done.text and "launches accepted" in done.text
    assert "Szkoła Łódź" in _text(done)
    assert Browser().launch(p, "10").status_code == 200
    (entry,) = _audit(app, "lti_registration.approve")
    assert entry.before == {"status": "pending"} and entry.after == {"status": "active"}
    (assigned,) = _audit(app, "lti_registration.assign")
    assert assigned.before == {"badge_issuer": None} and assigned.after == {"badge_issuer": ids.issuer}


def test_rejecting_a_dynamic_registration_deletes_it(hub_server, bare_platform, people):
    app, hub = hub_server
    requests.get(
        f"{hub}/lti/register",
        params={
            "openid_configuration": f"{bare_platform.base}/.well-known/openid-configuration",
            "registration_token": bare_platform.registration_token,
        },
        timeout=20,
    )
    site = Console(hub, people["site"])
    listing = site.get("/admin/lti/")
    done = _submit(site, listing, "/reject")
    assert "Registration rejected and deleted." in done.text and "No platforms registered yet." in done.text
    (entry,) = _audit(app, "lti_registration.reject")
    assert entry.before["client_id"] == "dyn-client-7" and entry.before["status"] == "pending"


def test_manual_registration_form_shows_field_errors_and_keeps_the_input(hub_server, people):
    app, hub = hub_server
    site = Console(hub, people["site"])
    page = site.get("/admin/lti/new")
    assert page.status_code == 200
    for url in ("/lti/login", "/lti/launch", "/lti/jwks"):
        assert f">{hub}{url}</code>" in page.text
    bad = site.post(
        "/admin/lti/new",
        {"name": "Canvas szkoły", "issuer": "canvas.instructure.com", "client_id": "", "auth_login_url": "x"},
    )
    assert bad.status_code == 422
    errors = dict(re.findall(r'<p class="lti-field-error" id="([a-z_]+)-error">([^<]+)</p>', bad.text))
    assert errors["issuer"].startswith("Enter a full address")
    assert errors["client_id"] == "Client id is required."
    assert html.unescape(errors["badge_issuer"]).startswith("Choose the issuer this platform belongs to")
    assert set(errors) == {"issuer", "client_id", "auth_login_url", "auth_token_url", "key_set_url", "badge_issuer"}
    assert 'value="Canvas szkoły"' in bad.text and 'value="canvas.instructure.com"' in bad.text
    assert 'id="issuer" name="issuer"' in bad.text and 'aria-invalid="true"' in bad.text

    values = {
        "name": "Canvas szkoły",
        "issuer": "https://canvas.instructure.com",
        "client_id": "10000000000042",
        "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
        "auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
        "key_set_url": "https://sso.canvaslms.com/api/lti/security/jwks",
        "deployment_ids": "1:abc\n2:def, 1:abc",
    }
    from .conftest import make_badges

    values["badge_issuer"] = make_badges(app.extensions["hub"]).issuer
    good = site.post("/admin/lti/new", values)
    assert good.status_code == 200 and "/admin/lti/registrations/" in good.url
    assert "Platform registered." in good.text
    assert "<code>1:abc</code>" in good.text and "<code>2:def</code>" in good.text
    (entry,) = _audit(app, "lti_registration.create")
    assert entry.after["client_id"] == "10000000000042" and entry.after["deployments"] == {
        "1:abc": "active",
        "2:def": "active",
    }
    assert entry.after["badge_issuer"] == values["badge_issuer"]
    again = site.post("/admin/lti/new", values)
    assert again.status_code == 422
    assert "already has a registration with this client id" in again.text


def test_registration_page_lists_courses_and_their_badges(world, people):
    teacher = world.browser()
    page = teacher.launch(world.platform, "10", custom={"badge_class": world.badges["safe"]})
    assert page.status_code == 200
    site = Console(world.hub, people["site"])
    reg = site.get(f"/admin/lti/registrations/{world.registration_id()}")
    courses = reg.text.split('id="courses"')[1].split("</table>")[0]
    assert "Bezpieczeństwo w sieci" in courses and "SEC101" in courses
    assert f'/admin/badges/{world.badges["safe"]}">Bezpieczny w sieci</a>' in courses
    assert "awarded by the teacher" in courses
    details = _text(reg)
    assert "Test Moodle" in details and world.platform.client_id in details
    deployments = reg.text.split('id="deployments"')[1].split("</table>")[0]
    assert "<code>1</code>" in deployments and "<time" in deployments  # last launch shown


def test_connectors_list_links_to_the_registration(world, people):
    world.browser().launch(world.platform, "10", custom={"badge_class": world.badges["safe"]})
    site = Console(world.hub, people["site"])
    listing = site.get("/admin/connectors")
    link = re.search(r'href="(/admin/lti/connectors/[^"]+)"', listing.text).group(1)
    page = site.get(link)
    assert page.url.endswith(f"/admin/lti/registrations/{world.registration_id()}")
    assert site.get("/admin/lti/connectors/00000000-0000-4000-8000-000000000000").status_code == 404


def test_tool_key_rotation_keeps_the_old_key_during_the_overlap(world, people):
    before = [k["kid"] for k in requests.get(f"{world.hub}/lti/jwks").json()["keys"]]
    site = Console(world.hub, people["site"])
    listing = site.get("/admin/lti/")
    assert "Platforms cache the tool's key set" in _text(listing)
    bad = site.post("/admin/lti/key/rotate", {"overlap_days": "-1"})
    assert "The overlap must be a number of days from 0 to 365." in bad.text
    done = _submit(site, listing, "/admin/lti/key/rotate")
    assert "New tool key made." in done.text and "previous key, published until" in done.text
    after = [k["kid"] for k in requests.get(f"{world.hub}/lti/jwks").json()["keys"]]
    assert len(after) == 2 and after[1:] == before
    (entry,) = _audit(world.app, "lti_tool_key.rotate")
    assert entry.before == {"kids": before} and entry.after == {"kid": after[0], "overlap_seconds": 7 * 86400}
    assert world.browser().launch(world.platform, "10").status_code == 200  # NRPS token signed with the new key


def test_forms_without_the_csrf_token_are_refused(world, people):
    site = Console(world.hub, people["site"])
    page = site.get(f"/admin/lti/registrations/{world.registration_id()}")
    form = _form(page, "/status", status="inactive")
    fields = {k: v for k, v in form["fields"].items() if k != "csrf_token"}
    assert site.http.post(form["action"], data=fields, timeout=10).status_code == 400
    assert site.http.post(form["action"], data={**fields, "csrf_token": "forged"}, timeout=10).status_code == 400
    assert site.post("/admin/lti/key/rotate", {"overlap_days": "7"}, csrf=False).status_code == 400
    assert not _audit(world.app, "lti_registration.deactivate") and not _audit(world.app, "lti_tool_key.rotate")
    assert world.browser().launch(world.platform, "4").status_code == 200


def test_polish_screens(world, people):
    world.platform.registration.tamper = lambda claims: {**claims, DEPLOYMENT: "99"}
    world.browser().launch(world.platform, "4")
    site = Console(world.hub, people["site"], lang="pl")
    listing = html.unescape(site.get("/admin/lti/").text)
    for text in (
        "Platformy LTI",
        "Czeka na zatwierdzenie",
        'aria-label="Kopiuj: Adres URL dynamicznej rejestracji">Kopiuj</button>',
        "Zarejestruj platformę ręcznie",
        "Wymień klucz narzędzia",
        "uruchomienia przyjmowane",
        "czeka na zatwierdzenie",
    ):
        assert text in listing, text
    reg = _text(site.get(f"/admin/lti/registrations/{world.registration_id()}"))
    assert "Wdrożenia" in reg and "Identyfikator klienta" in reg and "Kursy" in reg
    bad = site.post("/admin/lti/new", {"issuer": "x"})
    assert "Pole „Identyfikator klienta” jest wymagane." in html.unescape(bad.text)
    assert "Podaj pełny adres zaczynający się od https://" in html.unescape(bad.text)


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_issuer_people_cannot_see_or_use_the_screens(world, people, role):
    world.platform.registration.tamper = lambda claims: {**claims, DEPLOYMENT: "99"}
    world.browser().launch(world.platform, "4")
    with world.ctx.db.session_scope() as s:
        from connectors.lti.models import LtiDeployment

        pending = s.query(LtiDeployment).filter_by(deployment_id="99").one().public_id
    reg_id = world.registration_id()
    them = Console(world.hub, people[role])
    dashboard = them.get("/admin/")
    assert dashboard.status_code == 200 and "/admin/lti/" not in dashboard.text  # no menu entry
    for path in ("/admin/lti/", "/admin/lti/new"):
        assert them.get(path).status_code == 403, path
    assert them.get(f"/admin/lti/registrations/{reg_id}").status_code == 404
    posts = {
        f"/admin/lti/registrations/{reg_id}/status": ({"status": "inactive"}, 404),
        f"/admin/lti/registrations/{reg_id}/reject": ({}, 404),
        f"/admin/lti/deployments/{pending}/status": ({"status": "active"}, 404),
        "/admin/lti/key/rotate": ({"overlap_days": "7"}, 403),
        "/admin/lti/new": ({"issuer": "https://evil.example", "client_id": "x"}, 403),
    }
    for path, (data, status) in posts.items():
        assert them.post(path, data).status_code == status, path
    site = Console(world.hub, people["site"])
    assert "/admin/lti/" in site.get("/admin/").text  # the menu entry, for site administrators
    with world.ctx.db.session_scope() as s:
        assert s.query(AuditEntry).filter(AuditEntry.actor == people[role]).count() == 0
    assert world.browser().launch(world.platform, "10").status_code == 401  # still pending


def test_signed_out_visitors_are_sent_to_sign_in(world):
    r = requests.get(f"{world.hub}/admin/lti/", allow_redirects=False, timeout=10)
    assert r.status_code == 302 and "/admin/login" in r.headers["Location"]


def test_cli_changes_are_audited_too(world):
    runner = world.app.test_cli_runner()
    reg_id = world.registration_id()
    r = runner.invoke(args=["lti", "deactivate", reg_id, "--deployment", world.platform.deployment_id])
    assert r.exit_code == 0 and "deactivated" in r.output
    assert world.browser().launch(world.platform, "4").status_code == 401
    assert runner.invoke(args=["lti", "approve", reg_id, "--deployment", "nope"]).exit_code != 0
    assert runner.invoke(args=["lti", "approve", reg_id, "--deployment", world.platform.deployment_id]).exit_code == 0
    assert world.browser().launch(world.platform, "4").status_code == 200
    kid = runner.invoke(args=["lti", "rotate-key", "--overlap-days", "1"]).output.strip()
    assert kid == requests.get(f"{world.hub}/lti/jwks", timeout=10).json()["keys"][0]["kid"]
    entries = [
        (e.action, e.via, e.actor)
        for a in ("lti_deployment.deactivate", "lti_deployment.approve", "lti_tool_key.rotate")
        for e in _audit(world.app, a)
    ]
    assert entries == [
        ("lti_deployment.deactivate", "cli", "cli"),
        ("lti_deployment.approve", "cli", "cli"),
        ("lti_tool_key.rotate", "cli", "cli"),
    ]


def test_a_refused_change_and_numbers_in_the_readers_language(world, people):
    """A service's refusal is flashed in the reader's language; a course's grade threshold is a localised
    percentage."""
    from .test_flow import _post

    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    _post(teacher, page, "/lti/course/rule", rule="grade", threshold="62,5")
    reg_id = world.registration_id()
    polish = Console(world.hub, people["site"], lang="pl")
    refused = _text(polish.post(f"/admin/lti/registrations/{reg_id}/reject"))
    assert "Nie udało się zapisać: odrzucić można tylko oczekującą rejestrację; tę zamiast tego dezaktywuj" in refused
    courses = polish.get(f"/admin/lti/registrations/{reg_id}").text.split('id="courses"')[1]
    assert "(62,5%)" in courses
    english = Console(world.hub, people["site"])
    refused = _text(english.post(f"/admin/lti/registrations/{reg_id}/reject"))
    assert "Could not save: only a pending registration can be rejected; deactivate it instead" in refused
    assert "(62.5%)" in english.get(f"/admin/lti/registrations/{reg_id}").text
    assert not _audit(world.app, "lti_registration.reject")
