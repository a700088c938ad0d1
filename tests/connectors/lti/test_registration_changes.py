"""Fixing a registration: the https rule for platform URLs (manual form, API, same as dynamic
registration), changing a registration (console form and ``PATCH``), deleting an inactive or pending one
(confirmation page and ``DELETE``; refused while awards refer to it), and the key rotation message for
an overlap of 0 days. Over real HTTP with the lti1p3platform platform, SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import requests

from hub.accounts.models import AuditEntry
from hub.connections.models import ConnectorConfig

from .conftest import Console
from .platform import forms

CANVAS = {
    "name": "Canvas szkoły",
    "issuer": "https://canvas.instructure.com",
    "client_id": "10000000000042",
    "auth_login_url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "auth_token_url": "https://sso.canvaslms.com/login/oauth2/token",
    "key_set_url": "https://sso.canvaslms.com/api/lti/security/jwks",
    "deployment_ids": "1:abc",
}


def _canvas(people: dict) -> dict:
    """The Canvas registration form, assigned to the ``people`` fixture's issuer."""
    return {**CANVAS, "badge_issuer": people["issuer"]}


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Accept-Language": "en"}


def _audit(app, action: str) -> list[AuditEntry]:
    with app.extensions["hub"].db.session_scope() as s:
        rows = s.query(AuditEntry).filter_by(action=action).order_by(AuditEntry.id).all()
        s.expunge_all()
        return rows


def _errors(page: requests.Response) -> dict[str, str]:
    found = re.findall(r'<p class="lti-field-error" id="([a-z_]+)-error">([^<]+)</p>', page.text)
    return {k: html.unescape(v) for k, v in found}


def _reg_id(page: requests.Response) -> str:
    return re.search(r"/admin/lti/registrations/([0-9a-f-]{36})", page.url).group(1)


class _Fields(HTMLParser):
    """Every named input and textarea of a page, with its value (as the browser would send them)."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("name"):
            self.values[a["name"]] = a.get("value") or ""
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None


def _edit_values(page: requests.Response) -> dict[str, str]:
    """The change form's values (the form is the page's only one with a textarea)."""
    parser = _Fields()
    parser.feed(page.text.split('<form method="post" novalidate>')[1].split("</form>")[0])
    return parser.values


def _form(page: requests.Response, action_part: str) -> dict:
    found = [f for f in forms(page) if action_part in f["action"]]
    assert found, f"no form {action_part} in {[f['action'] for f in forms(page)]}"
    return found[0]


def test_platform_urls_must_be_https_except_on_this_computer(strict_hub, people):
    """The trial's registration with an http:// login URL is refused, in the form and the API."""
    app, hub = strict_hub
    site = Console(hub, people["site"])
    bad = site.post("/admin/lti/new", {**_canvas(people), "auth_login_url": "http://sso.canvaslms.com/authorize"})
    assert bad.status_code == 422
    assert _errors(bad) == {
        "auth_login_url": "Use an https:// address; http:// is accepted only for a platform on this computer "
        "(localhost)."
    }
    assert 'value="http://sso.canvaslms.com/authorize"' in bad.text  # the input is kept

    api = f"{hub}/api/v1/lti/registrations"
    body = {**_canvas(people), "deployment_ids": [], "key_set_url": "http://sso.canvaslms.com/jwks"}
    r = requests.post(api, json=body, headers=_bearer(people["site-token"]), timeout=10)
    assert r.status_code == 422 and r.json()["field"] == "key_set_url"
    assert r.json()["detail"].startswith("key_set_url: Use an https:// address")
    local = {
        "issuer": "http://localhost:8080",
        "client_id": "dev",
        "auth_login_url": "http://127.0.0.1:8080/auth",
        "auth_token_url": "http://[::1]:8080/token",
        "key_set_url": "http://moodle.localhost/jwks",
        "badge_issuer": people["issuer"],
    }
    assert requests.post(api, json=local, headers=_bearer(people["site-token"]), timeout=10).status_code == 201
    assert not _audit(app, "lti_registration.update")


def test_http_platforms_are_accepted_with_the_setting(hub_server, people):
    _app, hub = hub_server  # HUB_LTI_ALLOW_PRIVATE_HOSTS on
    body = {**_canvas(people), "deployment_ids": [], "auth_login_url": "http://sso.canvaslms.com/authorize"}
    r = requests.post(f"{hub}/api/v1/lti/registrations", json=body, headers=_bearer(people["site-token"]))
    assert r.status_code == 201, r.text


def test_a_typo_is_fixed_in_the_change_form(strict_hub, people):
    app, hub = strict_hub
    site = Console(hub, people["site"])
    created = site.post("/admin/lti/new", {**_canvas(people), "key_set_url": "https://sso.canvaslms.com/api/lti/jwsk"})
    reg_id = _reg_id(created)
    page = site.get(f"/admin/lti/registrations/{reg_id}")
    edit = site.get(re.search(r'href="(/admin/lti/registrations/[^"]+/edit)"', page.text).group(1))
    assert edit.status_code == 200 and "Change the registration" in edit.text
    fields = _edit_values(edit)
    assert fields["key_set_url"] == "https://sso.canvaslms.com/api/lti/jwsk" and fields["deployment_ids"] == "1:abc"
    assert 'id="issuer" name="issuer"' in edit.text and "readonly" not in edit.text  # no course yet

    wrong = site.post(f"/admin/lti/registrations/{reg_id}/edit", {**fields, "auth_token_url": "ftp://x"})
    assert wrong.status_code == 422 and _errors(wrong) == {
        "auth_token_url": "Enter a full address starting with https://."
    }
    fixed = site.post(
        f"/admin/lti/registrations/{reg_id}/edit",
        {**fields, "key_set_url": CANVAS["key_set_url"], "deployment_ids": "1:abc\n2:new"},
    )
    assert fixed.status_code == 200 and fixed.url.endswith(f"/admin/lti/registrations/{reg_id}")
    assert "Registration saved." in fixed.text and CANVAS["key_set_url"] in fixed.text
    assert "<code>2:new</code>" in fixed.text
    (entry,) = _audit(app, "lti_registration.update")
    assert entry.actor == people["site"] and entry.via == "console"
    assert entry.before == {
        "key_set_url": "https://sso.canvaslms.com/api/lti/jwsk",
        "deployments": {"1:abc": "active"},
    }
    assert entry.after == {"key_set_url": CANVAS["key_set_url"], "deployments": {"1:abc": "active", "2:new": "active"}}
    unchanged = site.post(
        f"/admin/lti/registrations/{reg_id}/edit", _edit_values(site.get(f"/admin/lti/registrations/{reg_id}/edit"))
    )
    assert "Registration saved." in unchanged.text and len(_audit(app, "lti_registration.update")) == 1

    other = site.post("/admin/lti/new", {**_canvas(people), "client_id": "other", "deployment_ids": ""})
    taken = site.post(f"/admin/lti/registrations/{_reg_id(other)}/edit", {**fields, "client_id": CANVAS["client_id"]})
    assert taken.status_code == 422
    assert _errors(taken) == {"client_id": "This platform already has a registration with this client id."}


def test_deactivated_registration_is_deleted_then_registered_again(strict_hub, people):
    """The trial: after deactivating a mistaken registration, the same issuer and client id could not be
    registered again. Now it can be deleted (with a confirmation page saying what goes) first."""
    app, hub = strict_hub
    site = Console(hub, people["site"])
    reg_id = _reg_id(site.post("/admin/lti/new", _canvas(people)))
    page = site.get(f"/admin/lti/registrations/{reg_id}")
    assert "/delete" not in page.text  # active: no delete link
    refused = site.get(f"/admin/lti/registrations/{reg_id}/delete")
    assert 'id="delete-refused"' in refused.text and "Deactivate it first" in refused.text
    assert not [f for f in forms(refused) if f["action"].endswith("/delete")]
    kept = site.post(f"/admin/lti/registrations/{reg_id}/delete")
    assert "Could not delete: Deactivate the registration before deleting it." in html.unescape(kept.text)

    done = site.post(f"/admin/lti/registrations/{reg_id}/status", {"status": "inactive"})
    assert "Registration deactivated." in done.text
    again = site.post("/admin/lti/new", _canvas(people))
    assert again.status_code == 422 and "already has a registration" in again.text
    confirm = site.get(re.search(r'href="(/admin/lti/registrations/[^"]+/delete)"', done.text).group(1))
    what = html.unescape(confirm.text.split('id="delete-what"')[1].split("</ul>")[0])
    assert "the registration and its deployments (1)" in what and "opened the tool (0)" in what
    deleted = site.http.post(_form(confirm, "/delete")["action"], data=_form(confirm, "/delete")["fields"])
    assert deleted.url.endswith("/admin/lti/") and "Registration of Canvas szkoły deleted." in deleted.text
    assert site.get(f"/admin/lti/registrations/{reg_id}").status_code == 404
    (entry,) = _audit(app, "lti_registration.delete")
    assert entry.before["client_id"] == CANVAS["client_id"] and entry.before["status"] == "inactive"
    assert entry.before["deleted"] == {"courses": 0, "linked_badges": 0}
    assert site.post("/admin/lti/new", _canvas(people)).status_code == 200  # registered again


def _teacher_awards(world) -> None:
    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    link = _form(page, "/lti/course/link")
    page = teacher.http.post(link["action"], data={**link["fields"], "badge": world.badges["safe"]}, timeout=20)
    award = _form(page, "/lti/course/award")
    data = {"launch": award["fields"]["launch"], "badge": world.badges["safe"], "member": ["4"]}
    assert "Badges awarded: 1." in teacher.http.post(award["action"], data=data, timeout=20).text


def test_a_registration_whose_courses_have_awards_is_kept(world, people):
    _teacher_awards(world)
    reg_id = world.registration_id()
    api = f"{world.hub}/api/v1/lti/registrations/{reg_id}"
    site = _bearer(people["site-token"])
    assert requests.post(f"{api}/deactivate", headers=site, timeout=10).ok
    r = requests.delete(api, headers=site, timeout=10)
    assert r.status_code == 422 and "(awards: 1, completion events: 0)" in r.json()["detail"]
    console = Console(world.hub, people["site"])
    page = console.get(f"/admin/lti/registrations/{reg_id}/delete")
    assert "This registration cannot be deleted" in html.unescape(page.text)
    assert not [f for f in forms(page) if f["action"].endswith("/delete")]
    assert requests.get(api, headers=site, timeout=10).json()["status"] == "inactive"

    # Its issuer and client id are in use: they cannot change; its URLs and name can.
    locked = requests.patch(api, json={"client_id": "other"}, headers=site, timeout=10)
    assert locked.status_code == 422 and locked.json()["field"] == "client_id"
    edit = console.get(f"/admin/lti/registrations/{reg_id}/edit")
    assert re.search(r'id="issuer" name="issuer" value="[^"]+" maxlength="1024" required readonly', edit.text)
    fields = _edit_values(edit)
    refused = console.post(f"/admin/lti/registrations/{reg_id}/edit", {**fields, "issuer": "https://elsewhere.example"})
    assert refused.status_code == 422 and _errors(refused) == {
        "issuer": "This cannot change once courses have used the registration."
    }
    renamed = requests.patch(api, json={"name": "Moodle szkoły"}, headers=site, timeout=10)
    assert renamed.status_code == 200 and renamed.json()["name"] == "Moodle szkoły"


def test_a_registration_whose_courses_have_no_awards_is_deleted_with_them(world, people):
    """A course that opened the tool (with a linked badge and a completion rule) but awarded nothing."""
    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    link = _form(page, "/lti/course/link")
    page = teacher.http.post(link["action"], data={**link["fields"], "badge": world.badges["safe"]}, timeout=20)
    rule = _form(page, "/lti/course/rule")
    teacher.http.post(rule["action"], data={**rule["fields"], "rule": "completion"}, timeout=20)
    reg_id = world.registration_id()
    with world.ctx.db.session_scope() as s:
        assert s.query(ConnectorConfig).filter_by(kind="lti").count() == 1
    site = _bearer(people["site-token"])
    api = f"{world.hub}/api/v1/lti/registrations/{reg_id}"
    assert requests.post(f"{api}/deactivate", headers=site, timeout=10).ok
    console = Console(world.hub, people["site"])
    confirm = console.get(f"/admin/lti/registrations/{reg_id}/delete")
    what = html.unescape(confirm.text.split('id="delete-what"')[1].split("</ul>")[0])
    assert "opened the tool (1) and the badges linked to them (1)" in what
    assert requests.delete(api, headers=site, timeout=10).status_code == 204
    with world.ctx.db.session_scope() as s:
        from connectors.lti.models import LtiContext

        assert s.query(LtiContext).count() == 0 and s.query(ConnectorConfig).filter_by(kind="lti").count() == 0
    assert world.browser().open_from_platform(world.platform, "10").status_code == 401  # no longer registered
    (entry,) = _audit(world.app, "lti_registration.delete")
    assert entry.via == "api" and entry.before["deleted"] == {"courses": 1, "linked_badges": 1}


def test_patch_changes_fields_and_deployments(world, people):
    site = _bearer(people["site-token"])
    api = f"{world.hub}/api/v1/lti/registrations"
    body = {**_canvas(people), "deployment_ids": ["1:abc", "2:def"]}
    created = requests.post(api, json=body, headers=site, timeout=10).json()
    url = f"{api}/{created['id']}"
    requests.post(f"{url}/deployments/2:def/deactivate", headers=site, timeout=10)
    r = requests.patch(
        url,
        json={"auth_audience": "https://sso.canvaslms.com", "deployment_ids": ["2:def", "3:ghi"], "status": "x"},
        headers=site,
        timeout=10,
    )
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["auth_audience"] == "https://sso.canvaslms.com" and doc["status"] == "active"
    assert {d["deployment_id"]: d["status"] for d in doc["deployments"]} == {"2:def": "inactive", "3:ghi": "active"}
    (entry,) = _audit(world.app, "lti_registration.update")
    assert entry.via == "api" and set(entry.after) == {"auth_audience", "deployments"}
    for bad in ({"auth_login_url": "not a url"}, {"key_set_url": "https://x.example/\x00"}, {"client_id": ""}):
        assert requests.patch(url, json=bad, headers=site, timeout=10).status_code == 422, bad
    taken = requests.patch(
        url, json={"issuer": world.platform.iss, "client_id": world.platform.client_id}, headers=site
    )
    assert taken.status_code == 422 and "exists" in taken.json()["detail"]
    assert requests.get(url, headers=site, timeout=10).json()["issuer"] == CANVAS["issuer"]  # nothing half-saved
    read = _bearer(people["site-read-token"])
    assert requests.patch(url, json={"name": "x"}, headers=read, timeout=10).status_code == 403
    assert requests.patch(f"{api}/00000000-0000-4000-8000-000000000000", json={}, headers=site).status_code == 404
    doc = requests.get(f"{world.hub}/api/v1/openapi.json", timeout=10).json()
    ops = doc["paths"]["/api/v1/lti/registrations/{reg_id}"]
    assert {"get", "patch", "delete"} <= set(ops) and "inactive" in ops["delete"]["summary"]


def test_rotation_without_overlap_says_the_old_key_is_withdrawn(world, people):
    site = Console(world.hub, people["site"])
    before = [k["kid"] for k in requests.get(f"{world.hub}/lti/jwks", timeout=10).json()["keys"]]
    done = site.post("/admin/lti/key/rotate", {"overlap_days": "0"})
    text = html.unescape(done.text)
    assert "The previous key was withdrawn from the key set at once" in text
    assert "stays published during the overlap" not in text
    after = [k["kid"] for k in requests.get(f"{world.hub}/lti/jwks", timeout=10).json()["keys"]]
    assert len(after) == 1 and after != before
    week = site.post("/admin/lti/key/rotate", {"overlap_days": "7"})
    assert "The previous key stays published during the overlap." in week.text

    api = f"{world.hub}/api/v1/lti/keys/rotate"
    token = _bearer(people["site-token"])
    assert requests.post(api, json={"overlap_days": 0}, headers=token).json()["previous_published_until"] is None
    kept = requests.post(api, json={"overlap_days": 1}, headers=token).json()["previous_published_until"]
    assert kept and kept.endswith("Z")
    pl = Console(world.hub, people["site"], lang="pl").post("/admin/lti/key/rotate", {"overlap_days": "0"})
    assert "Poprzedni klucz od razu wycofano ze zbioru kluczy" in html.unescape(pl.text)
