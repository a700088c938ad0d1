"""Moodle sites in the console, against the fake Moodle over real HTTP (pytest-httpserver): add a site,
check the connection (OK and failing), "Sync now" turning completions into awards, the plugin's push
connector, scoping, CSRF, the audit log, and the token never shown or logged. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from hub.accounts.models import AuditEntry
from hub.badges.models import Assertion
from hub.connections.models import ConnectorConfig
from hub.inbox.models import InboundEvent
from hub.rules.models import AwardRule
from moodle_bridge.events import WEBHOOK_MAPPING
from moodle_bridge.models import MoodleSyncRun
from moodle_bridge.sync import load_token
from tests.conftest import signed_headers
from tests.hub.web.conftest import post_form, sign_in

TOKEN = "t0k3n-5ecret-9f3a"  # distinctive, so a leak is easy to find


@pytest.fixture
def moodle(fake):
    fake.tokens[TOKEN] = {"expired": False}
    return fake


def site_form(moodle, world, **changes) -> dict:
    form = {
        "issuer": world["a"]["issuer_pid"],
        "name": "Moodle Szkoły Łódź",
        "site_url": moodle.site_url,
        "token": TOKEN,
        "course_ids": "2",
        "course_idnumbers": "",
        "competencies": "on",
        "page_size": "200",
    }
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def add_site(client, moodle, world, **changes) -> str:
    r = post_form(client, "/admin/moodle/new", site_form(moodle, world, **changes))
    assert r.status_code == 302, r.get_data(as_text=True)
    return r.headers["Location"].rsplit("/", 1)[-1]


def _site(ctx, public_id) -> ConnectorConfig:
    with ctx.db.session_scope() as s:
        row = s.query(ConnectorConfig).filter_by(public_id=public_id).one()
        s.expunge(row)
        return row


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_add_check_and_sync_turns_completions_into_awards(client, ctx, world, moodle, caplog):
    caplog.set_level(logging.DEBUG)
    sign_in(client, "admin-a@example.org")
    assert "/admin/moodle/" in client.get("/admin/").get_data(as_text=True)  # menu entry
    bad = post_form(client, "/admin/moodle/new", site_form(moodle, world, site_url="moodle.example", course_ids=""))
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert 'id="err-site_url"' in page and 'id="err-course_ids"' in page and 'aria-invalid="true"' in page
    assert "Moodle Szkoły Łódź" in page and TOKEN not in page  # input kept, the token never shown back

    site_id = add_site(client, moodle, world)
    row = _site(ctx, site_id)
    assert (row.kind, row.issuer_id, row.config["course_ids"]) == ("moodle", world["a"]["issuer_id"], [2])
    assert load_token(ctx, row) == TOKEN and TOKEN not in row.secrets_encrypted
    page = client.get(f"/admin/moodle/{site_id}").get_data(as_text=True)
    assert TOKEN not in page and f"badgehub moodle sync {row.slug}" in page
    assert f'href="/admin/moodle/{site_id}"' in client.get("/admin/connectors").get_data(as_text=True)

    checked = post_form(client, f"/admin/moodle/{site_id}/check").get_data(as_text=True)
    assert 'id="check-result"' in checked and "Test Moodle" in checked and "5.1+" in checked
    assert "admin" in checked and "err" not in checked.split('id="check-result"')[1].split("</div>")[0]

    rule = post_form(
        client,
        f"/admin/connectors/{site_id}/rules",
        {"event_type": "course_completed", "key": "SEC-101", "badge_class": world["a"]["badge"]},
    )
    assert rule.status_code == 302 and rule.headers["Location"].endswith(f"/admin/moodle/{site_id}")

    started = post_form(client, f"/admin/moodle/{site_id}/sync")  # HUB_JOB_MODE=sync: runs here
    assert started.status_code == 302
    with ctx.db.session_scope() as s:
        run = s.query(MoodleSyncRun).one()
        assert (run.status, run.submitted, run.courses_done, run.courses_total) == ("done", 1, 1, 1)
        event = s.query(InboundEvent).filter_by(connector_id=row.id).one()
        assert event.status == "processed"
        award = s.query(Assertion).filter_by(source_event_id=event.id).one()
        assert award.recipient_plain == "lukasz.wojcik@example.org"
        assert award.badge_class_id == world["a"]["badge_id"]
    page = client.get(f"/admin/moodle/{site_id}").get_data(as_text=True)
    assert event.external_id in page and 'id="course-states"' in page and "<td>2</td>" in page
    progress = client.get(f"/admin/moodle/{site_id}/sync/progress").get_json()
    assert progress["status"] == "done" and progress["state"] == "done" and progress["submitted"] == 1

    with ctx.db.session_scope() as s:
        entries = s.query(AuditEntry).filter_by(object_id=site_id).all()
        assert {e.action for e in entries} >= {"moodle.create", "moodle.sync"}
        created = next(e for e in entries if e.action == "moodle.create")
        assert created.after["token"] == "set" and created.actor == "admin-a@example.org"
        assert all(TOKEN not in json.dumps([e.before, e.after]) for e in s.query(AuditEntry))
    assert TOKEN not in client.get("/admin/audit").get_data(as_text=True)
    assert TOKEN not in caplog.text


def test_check_shows_readable_failures(client, ctx, world, moodle):
    sign_in(client, "admin-a@example.org")
    site_id = add_site(client, moodle, world, token="wrong-token")
    page = post_form(client, f"/admin/moodle/{site_id}/check").get_data(as_text=True)
    assert 'role="alert"' in page and ("does not know this token" in page or "nie zna tego tokenu" in page)

    moodle.rec["ws_site_info"]["response"]["functions"] = [
        f for f in moodle.rec["ws_site_info"]["response"]["functions"] if f["name"] != "core_enrol_get_enrolled_users"
    ]
    r = post_form(client, f"/admin/moodle/{site_id}", {**site_form(moodle, world, token=TOKEN), "enabled": "on"})
    assert r.status_code == 302
    page = post_form(client, f"/admin/moodle/{site_id}/check").get_data(as_text=True)
    assert "<code>core_enrol_get_enrolled_users</code>" in page

    post_form(
        client,
        f"/admin/moodle/{site_id}",
        {**site_form(moodle, world, site_url=closed_port_url(), token=""), "enabled": "on"},
    )
    page = post_form(client, f"/admin/moodle/{site_id}/check").get_data(as_text=True)
    assert "did not answer" in page or "nie odpowiedziała" in page
    with ctx.db.session_scope() as s:
        updates = s.query(AuditEntry).filter_by(object_id=site_id, action="moodle.update").all()
        assert [e.after.get("token") for e in updates] == ["replaced", None]
        assert all("wrong-token" not in json.dumps([e.before, e.after]) for e in updates)


def test_failed_sync_is_shown_and_the_next_one_may_start(client, ctx, world, moodle):
    sign_in(client, "admin-a@example.org")
    site_id = add_site(client, moodle, world, token="wrong-token")
    post_form(client, f"/admin/moodle/{site_id}/sync")
    with ctx.db.session_scope() as s:
        run = s.query(MoodleSyncRun).one()
        assert (run.status, run.error_slug) == ("failed", "moodle-invalid-token")
    page = client.get(f"/admin/moodle/{site_id}").get_data(as_text=True)
    assert 'id="sync-error"' in page
    assert client.get(f"/admin/moodle/{site_id}/sync/progress").get_json()["status"] == "failed"
    with ctx.db.session_scope() as s:  # a run still in progress blocks a second one
        s.query(MoodleSyncRun).one().status = "running"
    r = post_form(client, f"/admin/moodle/{site_id}/sync", follow_redirects=True)
    assert "already running" in r.get_data(as_text=True) or "już trwa" in r.get_data(as_text=True)
    assert post_form(client, f"/admin/moodle/{site_id}/sync/stop").status_code == 302
    with ctx.db.session_scope() as s:
        assert s.query(MoodleSyncRun).one().stop_requested


def test_push_connector_for_the_plugin_dedupes_with_the_sync(client, ctx, world, moodle):
    sign_in(client, "admin-a@example.org")
    site_id = add_site(client, moodle, world)
    post_form(
        client,
        f"/admin/connectors/{site_id}/rules",
        {"event_type": "course_completed", "key": "SEC-101", "badge_class": world["a"]["badge"]},
    )
    page = post_form(client, f"/admin/moodle/{site_id}/push", {"action": "create"}).get_data(as_text=True)
    secret = page.split('<pre id="new-secret">')[1].split("</pre>")[0]
    assert secret.startswith("whsec_")
    site = _site(ctx, site_id)
    with ctx.db.session_scope() as s:
        push = s.query(ConnectorConfig).filter_by(slug=site.config["push_connector"]).one()
        assert push.kind == "webhooks" and push.issuer_id == world["a"]["issuer_id"]
        assert push.config["mapping"] == WEBHOOK_MAPPING
        assert s.query(AwardRule).filter_by(connector_id=push.id).count() == 1  # the site's rule, copied
        push_slug, push_id = push.slug, push.id
    page = client.get(f"/admin/moodle/{site_id}").get_data(as_text=True)
    assert secret not in page and f"http://hub.test/hooks/{push_slug}" in page

    # The plugin pushes user 4's completion; then the sync finds the same one: one award.
    from moodle_bridge.client import Course, EnrolledUser
    from moodle_bridge.events import completion_payload

    data = completion_payload(
        site_url=moodle.site_url,
        course=Course(id=2, shortname="SEC101", fullname="Bezpieczeństwo", idnumber="SEC-101", enablecompletion=True),
        user=EnrolledUser(id=4, fullname="Łukasz Wójcik", email="Lukasz.Wojcik@Example.org"),
        timecompleted=1795940000,
    )
    body = json.dumps(data, ensure_ascii=False)
    pushed = client.post(f"/hooks/{push_slug}", data=body.encode(), headers=signed_headers(body, secret))
    assert pushed.status_code == 202
    post_form(client, f"/admin/moodle/{site_id}/sync")
    with ctx.db.session_scope() as s:
        assert s.query(Assertion).filter_by(badge_class_id=world["a"]["badge_id"]).count() == 2  # world's + this one
        assert s.query(Assertion).filter(Assertion.recipient_plain == "lukasz.wojcik@example.org").count() == 1
        assert s.query(InboundEvent).filter_by(connector_id=push_id).one().status == "processed"
    page = client.get(f"/admin/moodle/{site_id}").get_data(as_text=True)
    assert page.count("<td>plugin</td>") + page.count("<td>wtyczka</td>") == 1


def test_scoping_staff_and_other_issuers(app, client, ctx, world, moodle):
    sign_in(client, "admin-a@example.org")
    site_id = add_site(client, moodle, world)
    post_form(client, "/admin/logout")

    sign_in(client, "admin-b@example.org")
    assert site_id not in client.get("/admin/moodle/").get_data(as_text=True)
    routes = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("moodle.") and "connector_id" in r.arguments]
    assert len(routes) >= 8
    for rule in routes:
        url = rule.rule.replace("<connector_id>", site_id)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = (
                client.get(url)
                if method == "GET"
                else post_form(client, url, {"action": "create", **site_form(moodle, world)})
            )
            assert response.status_code == 404, (method, url, response.status_code)
    # B's admin cannot add a site under A's issuer either
    r = post_form(client, "/admin/moodle/new", site_form(moodle, world))
    assert r.status_code == 404
    post_form(client, "/admin/logout")

    sign_in(client, "staff-a@example.org")  # staff award; they do not configure sites
    assert client.get(f"/admin/moodle/{site_id}").status_code == 404
    assert post_form(client, f"/admin/moodle/{site_id}/sync").status_code == 404
    assert client.get("/admin/moodle/new").status_code == 403
    index = client.get("/admin/moodle/").get_data(as_text=True)
    assert site_id not in index and "/admin/moodle/new" not in index
    assert 'href="/admin/moodle/"' not in client.get("/admin/").get_data(as_text=True)  # no menu entry
    with ctx.db.session_scope() as s:
        actors = {e.actor for e in s.query(AuditEntry)}
    assert {"admin-b@example.org", "staff-a@example.org"}.isdisjoint(actors)

    post_form(client, "/admin/logout")
    sign_in(client, "site@example.org")  # site administrators configure every site
    assert client.get(f"/admin/moodle/{site_id}").status_code == 200


def test_forms_need_the_csrf_token(client, world, moodle):
    sign_in(client, "admin-a@example.org")
    assert client.post("/admin/moodle/new", data=site_form(moodle, world)).status_code == 400
    site_id = add_site(client, moodle, world)
    for path in ("", "/check", "/sync", "/sync/stop", "/push"):
        assert client.post(f"/admin/moodle/{site_id}{path}").status_code == 400, path


PL = {"Accept-Language": "pl-PL,pl;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.8"}


def _field_errors(page: str) -> dict[str, str]:
    import html
    import re

    return {k: html.unescape(v) for k, v in re.findall(r'<p class="flash error" id="err-([a-z_]+)">([^<]+)</p>', page)}


def test_site_form_errors_in_polish_and_english(client, ctx, world, moodle, caplog):
    """A bad site address is refused next to its field in the reader's language: by the form's own check,
    and by the connector's ``validate_config`` for an address only a URL parser can refuse."""
    sign_in(client, "admin-a@example.org")
    pl = post_form(client, "/admin/moodle/new", site_form(moodle, world, site_url="moodle.example.edu"), headers=PL)
    assert pl.status_code == 422
    page = pl.get_data(as_text=True)
    assert _field_errors(page)["site_url"] == "Podaj adres witryny, np. https://moodle.example.edu"
    assert 'value="moodle.example.edu"' in page and 'value="Moodle Szkoły Łódź"' in page  # the input is kept
    en = post_form(client, "/admin/moodle/new", site_form(moodle, world, site_url="moodle.example.edu"), headers=EN)
    assert (
        _field_errors(en.get_data(as_text=True))["site_url"]
        == "Enter the site's address, e.g. https://moodle.example.edu"
    )

    caplog.set_level(logging.INFO)
    unparsable = site_form(moodle, world, site_url="http://[moodle.example.edu")
    pl = post_form(client, "/admin/moodle/new", unparsable, headers=PL)
    assert pl.status_code == 422
    assert _field_errors(pl.get_data(as_text=True))["site_url"] == (
        "Ustawienia Moodle odrzucone: adres witryny musi być adresem http(s) witryny Moodle, "
        "a nie „http://[moodle.example.edu”"
    )
    en = post_form(client, "/admin/moodle/new", unparsable, headers=EN)
    assert _field_errors(en.get_data(as_text=True))["site_url"] == (
        "Moodle settings refused: the site address must be the Moodle site's http(s) address, "
        'not "http://[moodle.example.edu"'
    )
    assert not any("witryny" in r.getMessage() for r in caplog.records)  # logs stay English
    with ctx.db.session_scope() as s:
        assert s.query(ConnectorConfig).filter_by(kind="moodle").count() == 0


def test_check_and_sync_failures_in_polish_and_english(client, ctx, world, moodle):
    sign_in(client, "admin-a@example.org")
    site_id = add_site(client, moodle, world, site_url=closed_port_url())
    pl = post_form(client, f"/admin/moodle/{site_id}/check", headers=PL).get_data(as_text=True)
    result = pl.split('id="check-result"')[1].split("</div>")[0]
    assert "Sprawdzenie nie powiodło się. Witryna nie odpowiedziała" in result
    assert "core_webservice_get_site_info: witryna http://127.0.0.1:" in result and "nie odpowiedziała (" in result
    en = post_form(client, f"/admin/moodle/{site_id}/check", headers=EN).get_data(as_text=True)
    assert "did not answer (" in en.split('id="check-result"')[1].split("</div>")[0]

    post_form(client, f"/admin/moodle/{site_id}/sync")
    with ctx.db.session_scope() as s:
        run = s.query(MoodleSyncRun).one()
        assert run.error_slug == "moodle-unavailable" and " did not answer (" in run.error  # stored in English
    pl = client.get(f"/admin/moodle/{site_id}", headers=PL).get_data(as_text=True)
    error = pl.split('id="sync-error"')[1].split("</div>")[0]
    assert "Witryna nie odpowiedziała (adres, sieć albo prace konserwacyjne)." in error and "did not answer" in error
    en = client.get(f"/admin/moodle/{site_id}", headers=EN).get_data(as_text=True)
    assert "The site did not answer (address, network, or maintenance)." in en.split('id="sync-error"')[1]
