"""An issuer's people never see or change another issuer's data: every console and API route that
names an object is called by issuer A's administrator (and by A's API token) with issuer B's ids."""

from __future__ import annotations

import io
import re

import pytest

from hub.accounts import services as accounts
from hub.accounts.models import AuditEntry, User
from tests.hub.web.conftest import post_form, sign_in

# Which of world["b"]'s ids fills each URL parameter.
PARAMS = {
    "issuer_id": "issuer_pid",
    "badge_id": "badge",
    "connector_id": "connector_id",
    "rule_id": "rule",
    "event_id": "event",
    "assertion_id": "assertion",
    "job_id": "job",
    "token_id": "token",
    "user_id": "user",
    # LTI registrations and deployments are site-level: any id must be refused to an issuer's people.
    "reg_id": "issuer_pid",
    "deployment_id": "issuer_pid",
}


def _console(app) -> tuple[str, ...]:
    """Endpoint prefixes of the console: its own blueprint and the connectors' console blueprints."""
    return ("admin.", *(f"{name}." for name in app.extensions["hub.console_blueprints"]))


def _api(app) -> tuple[str, ...]:
    """Endpoint prefixes of the JSON API, the connectors' API routes included."""
    return tuple(f"{name}." for name in app.extensions["hub.api_blueprints"])


def _routes(app, prefix: str | tuple[str, ...]):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith(prefix) and rule.arguments & set(PARAMS):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def _url(rule, b) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: b[PARAMS[m.group(1)]], rule.rule)


def _audit_by(ctx, email: str) -> int:
    with ctx.db.session_scope() as s:
        return s.query(AuditEntry).filter_by(actor=email).count()


def test_console_routes_hide_other_issuers(app, ctx, client, world):
    sign_in(client, "admin-a@example.org")
    routes = list(_routes(app, _console(app)))
    assert {rule.endpoint.split(".")[0] for rule, _ in routes} >= {"admin", "moodle", "lti_console"}
    assert len(routes) >= 20
    for rule, method in routes:
        url = _url(rule, world["b"])
        if method == "GET":
            response = client.get(url)
        else:
            response = post_form(client, url, {"reason": "x", "name": "x", "event_type": "x", "action": "delete"})
        assert response.status_code in (403, 404), f"{method} {url} -> {response.status_code}"
        body = response.get_data(as_text=True).replace(url, "")  # the problem's "instance" names the URL
        assert world["b"]["issuer"] not in body and "b@example.org" not in body
    assert _audit_by(ctx, "admin-a@example.org") == 0


def test_console_listings_show_only_own_issuer(client, world):
    sign_in(client, "admin-a@example.org")
    for path in (
        "/admin/issuers",
        "/admin/badges",
        "/admin/connectors",
        "/admin/events",
        "/admin/awards",
        "/admin/awards.csv",
        "/admin/audit",
        "/admin/users",
        "/admin/",
    ):
        page = client.get(path).get_data(as_text=True)
        for key in ("issuer_pid", "badge", "connector_id", "event", "assertion"):
            assert world["b"][key] not in page, (path, key)
        assert "lms-b" not in page and "b@example.org" not in page and "admin-b@" not in page, path


@pytest.fixture
def token_a(ctx, world):
    with ctx.db.session_scope() as s:
        user = s.query(User).filter_by(email="admin-a@example.org").one()
        return accounts.create_api_token(s, user, name="a", scope="manage")[1]


def test_api_routes_hide_other_issuers(app, ctx, client, world, token_a):
    auth = {"Authorization": f"Bearer {token_a}"}
    routes = list(_routes(app, _api(app)))
    assert {rule.endpoint.split(".")[0] for rule, _ in routes} >= {"api_v1", "lti_api", "moodle_api"}
    assert len(routes) >= 20
    body = {"reason": "x", "enabled": False, "name": "x", "items": []}
    for rule, method in routes:
        url = _url(rule, world["b"])
        response = client.open(url, method=method, headers=auth, json=body)
        if response.status_code == 415:  # an operation that takes no JSON (a PKCS#12 upload): its media type
            form = {"data": (io.BytesIO(b"x"), "x.p12"), "password": "x"}
            response = client.open(url, method=method, headers=auth, data=form, content_type="multipart/form-data")
        assert response.status_code in (403, 404), f"{method} {url} -> {response.status_code}"
        assert response.mimetype == "application/problem+json"
    assert _audit_by(ctx, "admin-a@example.org") == 0


def test_api_listings_show_only_own_issuer(client, world, token_a):
    auth = {"Authorization": f"Bearer {token_a}"}
    for path in ("issuers", "badge-classes", "awards", "connectors", "rules", "events"):
        items = client.get(f"/api/v1/{path}", headers=auth).get_json()["items"]
        assert len(items) == 1, path
        assert all(world["b"]["issuer"] not in str(i) and "lms-b" not in str(i) for i in items), path
    assert client.get("/api/v1/events?connector=lms-b", headers=auth).get_json()["items"] == []


def test_api_cannot_create_under_another_issuer(client, world, token_a):
    auth = {"Authorization": f"Bearer {token_a}"}
    b = world["b"]
    attempts = [
        ("/api/v1/badge-classes", {"issuer": b["issuer_pid"], "name": "x", "description": "y", "image": "iVBORw0K"}),
        ("/api/v1/awards", {"badge_class": b["badge"], "email": "x@example.org"}),
        ("/api/v1/connectors", {"issuer": b["issuer_pid"], "slug": "evil", "name": "x", "mapping": {}}),
        ("/api/v1/rules", {"connector": b["connector_id"], "badge_class": b["badge"], "event_type": "x"}),
        ("/api/v1/rules", {"connector": world["a"]["connector_id"], "badge_class": b["badge"], "event_type": "x"}),
        ("/api/v1/events/replay", {"events": [b["event"]]}),
        ("/api/v1/issuers", {"name": "x", "url": "https://x.example"}),
    ]
    for path, body in attempts:
        response = client.post(path, headers=auth, json=body)
        assert response.status_code in (403, 404), (path, response.status_code, response.get_json())
