"""``/api/v1/lti``: in the OpenAPI document, per-user bearer tokens (site administrators; scope ``manage``
for writes), keyset pagination, problem JSON, audit entries; issuer people get 403/404 on every route."""

from __future__ import annotations

import re

import pytest
import requests

from hub.accounts.models import AuditEntry

from .conftest import ADMIN

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _manual(issuer: str, client_id: str = "c-1", **extra) -> dict:
    return {
        "issuer": issuer,
        "client_id": client_id,
        "auth_login_url": f"{issuer}/auth",
        "auth_token_url": f"{issuer}/token",
        "key_set_url": f"{issuer}/jwks",
        **extra,
    }


def test_the_routes_are_in_the_openapi_document(hub_server):
    _app, hub = hub_server
    doc = requests.get(f"{hub}/api/v1/openapi.json", timeout=10).json()
    paths = {p for p in doc["paths"] if p.startswith("/api/v1/lti/")}
    assert {
        "/api/v1/lti/registrations",
        "/api/v1/lti/registrations/{reg_id}",
        "/api/v1/lti/registrations/{reg_id}/approve",
        "/api/v1/lti/registrations/{reg_id}/deployments/{deployment_id}/approve",
        "/api/v1/lti/keys/rotate",
        "/api/v1/lti/completions",
        "/api/v1/lti/tool",
    } <= paths
    create = doc["paths"]["/api/v1/lti/registrations"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/RegistrationIn")
    assert doc["security"] == [{"bearer": []}]


def test_site_administrator_token_manages_registrations(world, people):
    site = _bearer(people["site-token"])
    api = f"{world.hub}/api/v1/lti"
    r = requests.post(
        f"{api}/registrations",
        json=_manual("https://moodle.example.edu", deployment_ids=["course/7"], badge_issuer=world.badges.issuer),
        headers=site,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["status"] == "active" and created["deployments"][0]["deployment_id"] == "course/7"
    assert created["badge_issuer"] == world.badges.issuer

    first = requests.get(f"{api}/registrations", params={"limit": 1}, headers=site, timeout=10).json()
    assert [i["id"] for i in first["items"]] == [created["id"]] and first["next"] == created["id"]
    second = requests.get(f"{api}/registrations", params={"limit": 1, "cursor": first["next"]}, headers=site).json()
    assert [i["id"] for i in second["items"]] == [world.registration_id()] and second["next"] is None
    assert requests.get(f"{api}/registrations", params={"status": "pending"}, headers=site).json()["items"] == []

    dep = f"{api}/registrations/{created['id']}/deployments/course/7"
    off = requests.post(f"{dep}/deactivate", headers=site, timeout=10)
    assert off.status_code == 200 and off.json()["deployments"][0]["status"] == "inactive"
    assert requests.post(f"{dep}/approve", headers=site).json()["deployments"][0]["status"] == "active"
    missing = requests.post(f"{api}/registrations/{created['id']}/deployments/nope/approve", headers=site)
    assert missing.status_code == 404
    refused = requests.delete(f"{api}/registrations/{created['id']}", headers={**site, "Accept-Language": "en"})
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    assert "Deactivate the registration before deleting it" in refused.json()["detail"]
    reg = requests.post(f"{api}/registrations/{created['id']}/deactivate", headers=site).json()
    assert reg["status"] == "inactive"
    assert requests.get(f"{api}/registrations/{created['id']}", headers=site).json()["status"] == "inactive"
    deleted = requests.delete(f"{api}/registrations/{created['id']}", headers=site, timeout=10)
    assert deleted.status_code == 204
    assert requests.get(f"{api}/registrations/{created['id']}", headers=site).status_code == 404

    tool = requests.get(f"{api}/tool", headers=site, timeout=10).json()
    assert tool["login_url"] == f"{world.hub}/lti/login" and tool["redirect_uris"] == [f"{world.hub}/lti/launch"]
    assert [k["status"] for k in tool["keys"]] == ["current"]

    with world.ctx.db.session_scope() as s:
        entries = s.query(AuditEntry).filter_by(actor=people["site"]).order_by(AuditEntry.id).all()
        assert [e.action for e in entries] == [
            "lti_registration.create",
            "lti_deployment.deactivate",
            "lti_deployment.approve",
            "lti_registration.deactivate",
            "lti_registration.delete",
        ]
        assert {e.via for e in entries} == {"api"}
        assert entries[-2].before == {"status": "active"} and entries[-2].after == {"status": "inactive"}
        assert entries[-1].before["client_id"] == "c-1" and entries[-1].before["deleted"]["courses"] == 0


def test_validation_and_lookups_answer_problem_json(world, people):
    site = _bearer(people["site-token"])
    api = f"{world.hub}/api/v1/lti"
    cases = [
        ("post", "/registrations", {"json": _manual("ftp://x.example")}, 422),
        ("post", "/registrations", {"json": _manual("https://a.example", client_id="  ")}, 422),
        ("post", "/registrations", {"json": _manual("https://a.example", deployment_ids=["x" * 256])}, 422),
        ("post", "/registrations", {"json": _manual("https://a.example", name="a\x00b")}, 422),
        ("get", "/registrations", {"params": {"cursor": "nope"}}, 422),
        ("get", "/registrations", {"params": {"limit": 0}}, 422),
        ("get", f"/registrations/{UNKNOWN}", {}, 404),
        ("get", "/registrations/not-an-id", {}, 404),
        ("post", "/keys/rotate", {"json": {"overlap_days": -1}}, 422),
        ("post", "/completions", {"json": {"registration": UNKNOWN, "context_id": "2", "sub": "4"}}, 404),
    ]
    for method, path, kw, status in cases:
        r = requests.request(method, f"{api}{path}", headers=site, timeout=10, **kw)
        assert r.status_code == status, (path, kw, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/problem+json"), path
    reg = world.platform.hub_registration(badge_issuer=world.badges.issuer)
    dup = requests.post(f"{api}/registrations", json=reg, headers={**site, "Accept-Language": "en"}, timeout=10)
    assert dup.status_code == 422 and dup.json()["detail"].endswith(f"/ {reg['client_id']} exists")
    dup = requests.post(f"{api}/registrations", json=reg, headers={**site, "Accept-Language": "pl"}, timeout=10)
    assert dup.json()["detail"] == f"rejestracja dla {reg['issuer']} / {reg['client_id']} już istnieje"
    assert dup.json()["field"] == "client_id" and dup.headers["Content-Language"] == "pl"
    missing = requests.get(f"{api}/registrations/{UNKNOWN}", headers={**site, "Accept-Language": "pl"}, timeout=10)
    assert missing.json()["detail"] == f"nie ma rejestracji LTI {UNKNOWN}"


def test_read_scope_reads_but_cannot_write(world, people):
    read = _bearer(people["site-read-token"])
    api = f"{world.hub}/api/v1/lti"
    assert requests.get(f"{api}/registrations", headers=read, timeout=10).status_code == 200
    for path in (f"/registrations/{world.registration_id()}/deactivate", "/keys/rotate"):
        assert requests.post(f"{api}{path}", headers=read, json={}, timeout=10).status_code == 403, path
    r = requests.post(f"{api}/registrations", json=_manual("https://b.example"), headers=read, timeout=10)
    assert r.status_code == 403


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_issuer_people_are_refused_on_every_route(world, people, role):
    auth = _bearer(people[f"{role}-token"])
    rules = [r for r in world.app.url_map.iter_rules() if r.endpoint.startswith("lti_api.")]
    assert len(rules) >= 9
    values = {"reg_id": world.registration_id(), "deployment_id": world.platform.deployment_id}
    before = len(requests.get(f"{world.hub}/lti/jwks", timeout=10).json()["keys"])
    for rule in rules:
        url = world.hub + re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: values[m.group(1)], rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            body = {"registration": values["reg_id"], "context_id": "2", "sub": "4", **_manual("https://c.example")}
            r = requests.request(method, url, headers=auth, json=body, timeout=10)
            assert r.status_code in (403, 404), (method, url, r.status_code)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert world.platform.client_id not in r.text
    assert len(requests.get(f"{world.hub}/lti/jwks").json()["keys"]) == before
    assert world.browser().launch(world.platform, "4").status_code == 200
    with world.ctx.db.session_scope() as s:
        assert s.query(AuditEntry).filter(AuditEntry.actor == people[role]).count() == 0


def test_the_bootstrap_token_still_works_and_no_token_is_401(world):
    api = f"{world.hub}/api/v1/lti/registrations"
    assert requests.get(api, headers=ADMIN, timeout=10).status_code == 200
    r = requests.get(api, timeout=10)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.get(api, headers=_bearer("bh_wrong"), timeout=10).status_code == 401
