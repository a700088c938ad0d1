"""``/api/v1/moodle``: sites over the JSON API against the fake Moodle on real HTTP. Bearer tokens per
user (scopes), issuer scoping, problem JSON for refusals and for sites that do not answer (502/504,
never 500), the token never returned, and the routes in the OpenAPI document. SQLite and PostgreSQL."""

from __future__ import annotations

import socket

import pytest

from hub.accounts import services as accounts
from hub.accounts.models import AuditEntry, User
from hub.badges.models import Assertion
from hub.jobs.models import Job
from hub.learners.models import Notification
from hub.rules.services import create_rule
from moodle_bridge.models import MoodleSyncRun

TOKEN = "api-t0k3n-7c1e"
ADMIN = {"Authorization": "Bearer admin-token"}


@pytest.fixture
def moodle(fake):
    fake.tokens[TOKEN] = {"expired": False}
    return fake


def _token(ctx, email: str, scope: str) -> dict:
    with ctx.db.session_scope() as s:
        user = s.query(User).filter_by(email=email).one()
        return {"Authorization": f"Bearer {accounts.create_api_token(s, user, name=scope, scope=scope)[1]}"}


@pytest.fixture
def admin_a(ctx, world):
    return _token(ctx, "admin-a@example.org", "manage")


def _create(client, auth, moodle, world, **changes):
    body = {
        "issuer": world["a"]["issuer_pid"],
        "name": "Moodle A",
        "site_url": moodle.site_url,
        "token": TOKEN,
        "course_ids": [2],
    }
    body.update(changes)
    return client.post("/api/v1/moodle/sites", headers=auth, json=body)


def test_create_check_sync_and_status(client, ctx, world, moodle, admin_a):
    r = _create(client, admin_a, moodle, world)
    assert r.status_code == 201, r.get_json()
    site = r.get_json()
    assert TOKEN not in r.get_data(as_text=True)
    assert site["token_set"] and site["issuer"] == world["a"]["issuer_pid"] and site["slug"] == "moodle-a"
    assert site["course_ids"] == [2] and site["competencies"] and site["page_size"] == 200
    listed = client.get("/api/v1/moodle/sites", headers=admin_a).get_json()
    assert [s["id"] for s in listed["items"]] == [site["id"]] and listed["next"] is None

    check = client.post(f"/api/v1/moodle/sites/{site['id']}/check", headers=admin_a)
    assert check.status_code == 200
    assert check.get_json() | {"sitename": None} == {
        "ok": True,
        "sitename": None,
        "siteurl": moodle.site_url,
        "release": check.get_json()["release"],
        "username": "admin",
        "missing_functions": [],
        "site_url_matches": True,
    }

    with ctx.db.session_scope() as s:  # a rule, as the console's rule form makes it
        from hub.badges.models import BadgeClass
        from hub.connections.models import ConnectorConfig

        create_rule(
            s,
            s.query(ConnectorConfig).filter_by(public_id=site["id"]).one(),
            s.query(BadgeClass).filter_by(id=world["a"]["badge_id"]).one(),
            event_type="course_completed",
            key="SEC-101",
        )
    started = client.post(f"/api/v1/moodle/sites/{site['id']}/sync", headers=admin_a)
    assert started.status_code == 202
    assert started.get_json()["run"]["status"] == "queued"  # a job of the job system, run after the commit
    body = client.get(f"/api/v1/moodle/sites/{site['id']}/sync", headers=admin_a).get_json()
    assert body["run"]["status"] == "done" and body["run"]["submitted"] == 1  # HUB_JOB_MODE=sync: done by now
    assert body["courses"][0]["course_id"] == 2 and body["courses"][0]["status"] == "done"
    assert body["run"]["id"] == started.get_json()["run"]["id"] and body["run"]["report"][0]["completed"] == 1
    with ctx.db.session_scope() as s:
        (award,) = s.query(Assertion).filter_by(recipient_plain="lukasz.wojcik@example.org").all()
        # The sync's completion went through the one award operation: audited as the site's connector,
        # and the award e-mail went out.
        entry = s.query(AuditEntry).filter_by(action="assertion.create", object_id=award.public_id).one()
        assert (entry.actor, entry.via) == ("connector:moodle-a", "moodle")
        assert [n.status for n in s.query(Notification).filter_by(assertion_id=award.id)] == ["sent"]
        (job,) = s.query(Job).filter_by(kind="moodle.sync").all()
        assert job.status == "done" and job.payload == {"run": job.payload["run"]}

    patched = client.patch(
        f"/api/v1/moodle/sites/{site['id']}",
        headers=admin_a,
        json={"token": "new-token", "course_idnumbers": ["SEC-101"], "enabled": False},
    )
    assert patched.status_code == 200 and patched.get_json()["course_idnumbers"] == ["SEC-101"]
    assert not patched.get_json()["enabled"] and "new-token" not in patched.get_data(as_text=True)
    refused = client.post(f"/api/v1/moodle/sites/{site['id']}/sync", headers=admin_a)
    assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    with ctx.db.session_scope() as s:
        actions = [e.action for e in s.query(AuditEntry).filter_by(object_id=site["id"]).order_by(AuditEntry.id)]
        assert actions == ["moodle.create", "moodle.sync", "moodle.update"]
        update = s.query(AuditEntry).filter_by(object_id=site["id"], action="moodle.update").one()
        assert update.after["token"] == "replaced" and update.via == "api"


def _dead_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_unreachable_or_refusing_sites_are_problems_not_500(client, ctx, world, moodle, admin_a):
    dead = _create(client, admin_a, moodle, world, site_url=_dead_url(), name="Dead").get_json()
    r = client.post(f"/api/v1/moodle/sites/{dead['id']}/check", headers=admin_a)
    assert r.status_code == 504 and r.mimetype == "application/problem+json"
    assert r.get_json()["type"].endswith("/problems/moodle-unavailable")

    wrong = _create(client, admin_a, moodle, world, token="unknown", name="Wrong").get_json()
    r = client.post(f"/api/v1/moodle/sites/{wrong['id']}/check", headers=admin_a)
    assert r.status_code == 502 and r.get_json()["type"].endswith("/problems/moodle-invalid-token")

    fixed = client.patch(f"/api/v1/moodle/sites/{wrong['id']}", headers=admin_a, json={"token": TOKEN})
    assert fixed.status_code == 200, fixed.get_json()
    moodle.fail_next = [404]  # an HTML page, not Moodle's REST answer (wrong address, REST switched off)
    r = client.post(f"/api/v1/moodle/sites/{wrong['id']}/check", headers=admin_a)
    assert r.status_code == 502 and r.get_json()["type"].endswith("/problems/moodle-protocol-error")

    r = client.post(f"/api/v1/moodle/sites/{dead['id']}/sync", headers=admin_a)
    assert r.status_code == 202
    run = client.get(f"/api/v1/moodle/sites/{dead['id']}/sync", headers=admin_a).get_json()["run"]
    assert run["status"] == "failed" and run["error_slug"] == "moodle-unavailable" and run["error"]
    with ctx.db.session_scope() as s:
        assert s.query(MoodleSyncRun).count() == 1


def test_validation_errors_are_422(client, world, moodle, admin_a):
    for changes in (
        {"site_url": "not a url"},
        {"course_ids": []},  # no course at all: refused by the connector's validate_config
        {"page_size": 0},
        {"token": ""},
        {"name": "x\x00y"},
        {"slug": "Not A Slug"},
    ):
        r = _create(client, admin_a, moodle, world, **changes)
        assert r.status_code == 422 and r.mimetype == "application/problem+json", (changes, r.get_json())
    assert _create(client, admin_a, moodle, world, slug="moodle-x").status_code == 201
    taken = _create(client, admin_a, moodle, world, slug="moodle-x", site_url=f"{moodle.site_url}/other")
    assert taken.status_code == 409 and taken.get_json()["field"] == "slug"  # valid, the hub's state refuses it


def test_scopes_and_other_issuers(client, ctx, world, moodle, admin_a):
    site = _create(client, admin_a, moodle, world).get_json()
    b = {"Authorization": f"Bearer {world['token_b']}"}
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("POST", "/check"),
        ("POST", "/sync"),
        ("GET", "/sync"),
        ("POST", "/sync/stop"),
    ):
        r = client.open(f"/api/v1/moodle/sites/{site['id']}{path}", method=method, headers=b, json={"name": "x"})
        assert r.status_code == 404 and r.mimetype == "application/problem+json", (method, path)
    assert client.get("/api/v1/moodle/sites", headers=b).get_json()["items"] == []
    assert _create(client, b, moodle, world).status_code == 404  # issuer A is not theirs
    assert _create(client, b, moodle, world, issuer=None).status_code == 403  # site-level: site admins only

    read = _token(ctx, "admin-a@example.org", "read")
    assert client.get(f"/api/v1/moodle/sites/{site['id']}", headers=read).status_code == 200
    assert client.patch(f"/api/v1/moodle/sites/{site['id']}", headers=read, json={"name": "x"}).status_code == 403
    assert client.post(f"/api/v1/moodle/sites/{site['id']}/sync", headers=read).status_code == 403
    assert _create(client, read, moodle, world).status_code == 403
    staff = _token(ctx, "staff-a@example.org", "manage")
    assert client.get(f"/api/v1/moodle/sites/{site['id']}", headers=staff).status_code == 404
    assert client.get("/api/v1/moodle/sites").status_code == 401
    site_level = _create(client, ADMIN, moodle, world, issuer=None, name="Whole site", site_url=f"{moodle.site_url}/w")
    assert site_level.status_code == 201 and site_level.get_json()["issuer"] is None
    assert client.get(f"/api/v1/moodle/sites/{site_level.get_json()['id']}", headers=admin_a).status_code == 404


def test_paging_and_openapi(client, world, moodle, admin_a):
    ids = [
        _create(client, admin_a, moodle, world, name=f"Moodle {i}", site_url=f"{moodle.site_url}/m{i}").get_json()["id"]
        for i in range(3)
    ]
    first = client.get("/api/v1/moodle/sites?limit=2", headers=admin_a).get_json()
    second = client.get(f"/api/v1/moodle/sites?limit=2&cursor={first['next']}", headers=admin_a).get_json()
    assert [s["id"] for s in first["items"] + second["items"]] == ids[::-1] and second["next"] is None
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = {p for p in spec["paths"] if p.startswith("/api/v1/moodle/")}
    assert paths == {
        "/api/v1/moodle/sites",
        "/api/v1/moodle/sites/{connector_id}",
        "/api/v1/moodle/sites/{connector_id}/check",
        "/api/v1/moodle/sites/{connector_id}/sync",
        "/api/v1/moodle/sites/{connector_id}/sync/stop",
    }
    check = spec["paths"]["/api/v1/moodle/sites/{connector_id}/check"]["post"]
    assert {"200", "502", "504"} <= set(check["responses"])
    assert "token" not in spec["components"]["schemas"]["SiteOut"]["properties"]


def test_sync_runs_in_a_background_thread(settings, world, moodle):
    """``HUB_JOB_MODE=thread`` (the default in production): the request answers at once, the run
    reports progress until done, and the completions it hands over become awards in the job pool."""
    import time

    from hub import create_app

    # No scheduled sync: the site's first scheduled run could take the completion before "Sync now".
    app = create_app(settings.with_(job_mode="thread", moodle_sync_minutes=0))
    try:
        client = app.test_client()
        site = _create(client, ADMIN, moodle, world).get_json()
        ctx = app.extensions["hub"]
        with ctx.db.session_scope() as s:
            from hub.badges.models import BadgeClass
            from hub.connections.models import ConnectorConfig

            create_rule(
                s,
                s.query(ConnectorConfig).filter_by(public_id=site["id"]).one(),
                s.query(BadgeClass).filter_by(id=world["a"]["badge_id"]).one(),
                event_type="course_completed",
            )
        started = client.post(f"/api/v1/moodle/sites/{site['id']}/sync", headers=ADMIN)
        assert started.status_code == 202 and started.get_json()["run"]["status"] in ("queued", "running", "done")
        deadline = time.monotonic() + 120
        while True:
            run = client.get(f"/api/v1/moodle/sites/{site['id']}/sync", headers=ADMIN).get_json()["run"]
            if run["status"] not in ("queued", "running") or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert run["status"] == "done" and run["submitted"] == 1, run
        while time.monotonic() < deadline:  # the event is processed by the job pool, after its page's commit
            with ctx.db.session_scope() as s:
                if s.query(Assertion).filter_by(recipient_plain="lukasz.wojcik@example.org").count():
                    break
            time.sleep(0.1)
        with ctx.db.session_scope() as s:
            assert s.query(Assertion).filter_by(recipient_plain="lukasz.wojcik@example.org").count() == 1
    finally:
        app.extensions["hub.jobs"].shutdown()
        app.extensions["hub"].db.dispose()


def test_one_site_address_is_one_connector(client, ctx, world, moodle, admin_a):
    first = _create(client, admin_a, moodle, world).get_json()
    again = _create(client, {**admin_a, "Accept-Language": "en"}, moodle, world, site_url=f"{moodle.site_url}//")
    assert again.status_code == 409 and again.mimetype == "application/problem+json"
    problem = again.get_json()
    assert problem["field"] == "site_url" and f"as Moodle A ({first['slug']})" in problem["detail"]
    assert problem["type"].endswith("/problems/moodle-site-address-taken")
    other = _create(client, admin_a, moodle, world, site_url=f"{moodle.site_url}/other", name="Other").get_json()
    moved = client.patch(f"/api/v1/moodle/sites/{other['id']}", headers=admin_a, json={"site_url": moodle.site_url})
    assert moved.status_code == 409 and moved.get_json()["field"] == "site_url"
    assert client.get(f"/api/v1/moodle/sites/{other['id']}", headers=admin_a).get_json()["site_url"].endswith("/other")
    same = client.patch(f"/api/v1/moodle/sites/{first['id']}", headers=admin_a, json={"site_url": moodle.site_url})
    assert same.status_code == 200
    with ctx.db.session_scope() as s:
        assert [e.action for e in s.query(AuditEntry).filter(AuditEntry.action.like("moodle.%"))] == [
            "moodle.create",
            "moodle.create",
            "moodle.update",
        ]


def test_problems_follow_the_callers_language(client, world, moodle, admin_a):
    """The connector's ``validate_config`` refusal names its field; title and detail are translated."""
    pl = _create(client, {**admin_a, "Accept-Language": "pl"}, moodle, world, course_ids=[])
    doc = pl.get_json()
    assert pl.status_code == 422 and doc["field"] == "course_ids" and pl.headers["Content-Language"] == "pl"
    assert (
        doc["title"] == "Nieprawidłowe dane"
        and doc["detail"] == "przypisz co najmniej jeden kurs: jego id albo numer ID"
    )
    en = _create(client, {**admin_a, "Accept-Language": "en"}, moodle, world, course_ids=[]).get_json()
    assert en["detail"] == "map at least one course: its id or its ID number" and en["type"] == doc["type"]
    missing = client.get(
        "/api/v1/moodle/sites/00000000-0000-4000-8000-000000000000", headers={**admin_a, "Accept-Language": "pl"}
    )
    assert missing.status_code == 404 and missing.get_json()["detail"] == "nie ma takiej witryny Moodle"
    dead = _create(client, admin_a, moodle, world, site_url=_dead_url(), name="Dead").get_json()
    r = client.post(f"/api/v1/moodle/sites/{dead['id']}/check", headers={**admin_a, "Accept-Language": "pl"})
    assert r.status_code == 504 and r.get_json()["title"] == "Witryna Moodle jest niedostępna"
    assert "nie odpowiedziała" in r.get_json()["detail"]
