"""Dynamic registration against a served platform and against Moodle 5.1's recorded exchange; manual
registration; tool keys and their rotation; the shared store; access-token caching."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import requests

from connectors.lti.dynreg import registration_request
from connectors.lti.launch import Launch
from tests.conftest import SHARED_REF

from .conftest import ADMIN, approve, make_badges

MOODLE = SHARED_REF / "moodle"
TOOL_CONFIG = "https://purl.imsglobal.org/spec/lti-tool-configuration"


def _register(hub, p, token=None):
    return requests.get(
        f"{hub}/lti/register",
        params={
            "openid_configuration": f"{p.base}/.well-known/openid-configuration",
            "registration_token": token or p.registration_token,
        },
        headers={"Accept": "text/html", "Accept-Language": "en"},
        timeout=20,
    )


def test_dynamic_registration_then_approval_then_launch(hub_server, bare_platform):
    app, hub = hub_server
    p = bare_platform
    r = _register(hub, p)
    assert r.status_code == 200, r.text
    assert "org.imsglobal.lti.close" in r.text and "must approve" in r.text
    (sent,) = p.registrations
    login_uri = sent["initiate_login_uri"]  # the registration's own (MDL-74221), checked below
    assert login_uri.startswith(f"{hub}/lti/login/")
    # Two hubs in one platform are told apart: the institution (default: the hub's host), a logo, a description.
    assert sent["client_name"] == "Badge Hub (127.0.0.1)"
    logo = requests.get(sent["logo_uri"], timeout=10)
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/png" and logo.content[:4] == b"\x89PNG"
    assert "Open Badges" in sent[TOOL_CONFIG]["description"]
    assert sent["redirect_uris"] == [f"{hub}/lti/launch"]
    assert sent["jwks_uri"] == f"{hub}/lti/jwks"
    assert sent["token_endpoint_auth_method"] == "private_key_jwt"
    tool = sent[TOOL_CONFIG]
    assert tool["domain"] == hub.split("//")[1] and tool["target_link_uri"].split("/")[2] == tool["domain"]
    assert {"email", "name"} <= set(tool["claims"])
    assert any(m["type"] == "LtiDeepLinkingRequest" for m in tool["messages"])
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in sent["scope"]
    assert "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly" in sent["scope"]

    (reg,) = requests.get(f"{hub}/api/v1/lti/registrations", headers=ADMIN).json()["items"]
    assert reg["status"] == "pending" and reg["client_id"] == "dyn-client-7"
    assert reg["deployments"] == [{"deployment_id": "2", "status": "active", "last_seen_at": None}]
    assert reg["product_family_code"] == "moodle"
    assert login_uri == f"{hub}/lti/login/{reg['id']}"
    from .platform import Browser

    pending = Browser().open_from_platform(p, "10")
    assert pending.status_code == 401 and "not registered" in pending.text
    refused = requests.post(
        f"{hub}/api/v1/lti/registrations/{reg['id']}/approve", headers={**ADMIN, "Accept-Language": "en"}
    )
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["field"] == "badge_issuer" and "Choose the issuer" in refused.json()["detail"]
    ids = make_badges(app.extensions["hub"])
    approved = approve(hub, reg["id"], ids.issuer)
    assert approved.ok and approved.json()["badge_issuer"] == ids.issuer
    page = Browser().launch(p, "10")
    assert page.status_code == 200 and "Badges in this course" in page.text


def test_dynamic_registration_refuses_an_issuer_from_elsewhere(hub_server, bare_platform, caplog):
    _app, hub = hub_server
    bare_platform.issuer_override = "https://moodle.example.edu"
    r = _register(hub, bare_platform)
    assert r.status_code == 400 and "could not register" in r.text
    assert not bare_platform.registrations
    assert any("does not match the configuration URL" in rec.getMessage() for rec in caplog.records)


def test_dynamic_registration_with_a_bad_token(hub_server, bare_platform, caplog):
    _app, hub = hub_server
    r = _register(hub, bare_platform, token="wrong")
    assert r.status_code == 400
    assert any("refused the registration" in rec.getMessage() for rec in caplog.records)
    assert requests.get(f"{hub}/api/v1/lti/registrations", headers=ADMIN).json()["items"] == []


def _moodle(name: str) -> dict:
    path = MOODLE / name
    if not path.exists():
        pytest.skip(f"recorded Moodle data not available: {path} (../shared/ref is absent)")
    return json.loads(path.read_text())


def test_registration_against_moodle_recorded_exchange(hub_server, httpserver):
    """Moodle 5.1's recorded OpenID configuration and answer, served on localhost (host rewritten)."""
    rec = _moodle("lti_dynamic_registration.json")
    _app, hub = hub_server
    here = httpserver.url_for("").rstrip("/")
    config = json.loads(json.dumps(rec["openid_configuration"]).replace("https://moodle.example.edu", here))
    httpserver.expect_request("/mod/lti/openid-configuration.php").respond_with_json(config)
    httpserver.expect_request(
        "/mod/lti/openid-registration.php", method="POST", headers={"Authorization": "Bearer moodle-token"}
    ).respond_with_json(rec["registration_response"])
    r = requests.get(
        f"{hub}/lti/register",
        params={
            "openid_configuration": f"{here}/mod/lti/openid-configuration.php",
            "registration_token": "moodle-token",
        },
        headers={"Accept": "text/html"},
        timeout=20,
    )
    assert r.status_code == 200, r.text
    (reg,) = requests.get(f"{hub}/api/v1/lti/registrations", headers=ADMIN).json()["items"]
    assert reg["client_id"] == rec["registration_response"]["client_id"]
    assert reg["deployments"] == [{"deployment_id": "2", "status": "active", "last_seen_at": None}]
    assert reg["auth_login_url"] == f"{here}/mod/lti/auth.php" and reg["key_set_url"] == f"{here}/mod/lti/certs.php"
    assert set(reg["scopes"]) == set(rec["registration_response"]["scope"].split())
    # Our request carries at least what the recording tool sent Moodle.
    ours = registration_request("https://badges.example.org/lti")
    theirs = rec["registration_request"]
    assert set(theirs) <= set(ours)
    assert set(theirs[TOOL_CONFIG]) <= set(ours[TOOL_CONFIG])


def test_moodle_learner_launch_claims():
    claims = _moodle("lti_moodle_launch_learner.json")
    launch = Launch("x", {**claims, "badgehub_client_id": claims["aud"]})
    assert not launch.is_instructor
    assert launch.context_id == "2" and launch.deployment_id == "1" and launch.sub == "4"
    assert launch.email == "Lukasz.Wojcik@Example.org" and launch.name == "Łukasz Wójcik"
    assert launch.locale == "en"
    assert launch.claims["exp"] - launch.claims["iat"] == 60  # why the launch window must be tight


def test_moodle_learner_sees_badges_sent_to_their_email_in_other_case(ctx):
    """Badges awarded elsewhere to the e-mail in lower case appear for Moodle's mixed-case e-mail."""
    from connectors.lti.services import learner_assertions
    from connectors.types import PlatformUser
    from hub.badges import services as badges
    from hub.badges.models import BadgeClass

    claims = _moodle("lti_moodle_launch_learner.json")
    ids = make_badges(ctx)
    with ctx.db.session_scope() as s:
        badge = badges.get_by_public_id(s, BadgeClass, ids["safe"])
        badges.award(s, ctx, badge, PlatformUser(email="lukasz.wojcik@example.org", name="Ł W"))
    with ctx.db.session_scope() as s:
        found = learner_assertions(s, Launch("x", {**claims, "badgehub_client_id": claims["aud"]}))
        assert [a.badge_class.public_id for a in found] == [ids["safe"]]


def test_manual_registration_validates_input(hub_server):
    _app, hub = hub_server
    r = requests.post(f"{hub}/api/v1/lti/registrations", json={"issuer": "not a url"}, headers=ADMIN)
    assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
    assert {"issuer", "client_id", "auth_login_url"} <= set(r.json()["errors"]["json"])
    assert requests.get(f"{hub}/api/v1/lti/registrations").status_code == 401


def test_jwks_rotation_keeps_the_old_key_during_the_overlap(world):
    before = requests.get(f"{world.hub}/lti/jwks").json()["keys"]
    assert len(before) == 1 and before[0]["alg"] == "RS256" and before[0]["use"] == "sig"
    new_kid = requests.post(f"{world.hub}/api/v1/lti/keys/rotate", json={"overlap_days": 7}, headers=ADMIN).json()[
        "kid"
    ]
    after = requests.get(f"{world.hub}/lti/jwks").json()["keys"]
    assert [k["kid"] for k in after] == [new_kid, before[0]["kid"]]
    # Service calls sign with the new key; the platform verifies against the JWKS.
    page = world.browser().launch(world.platform, "10")
    assert "Łukasz Wójcik" in page.text
    newest = requests.post(f"{world.hub}/api/v1/lti/keys/rotate", json={"overlap_days": 0}, headers=ADMIN).json()
    # Retired without overlap: gone at once; the first key keeps its 7 days.
    assert [k["kid"] for k in requests.get(f"{world.hub}/lti/jwks").json()["keys"]] == [newest["kid"], before[0]["kid"]]


def test_access_tokens_are_cached_per_registration_and_scopes(world):
    teacher = world.browser()
    teacher.launch(world.platform, "10")
    teacher.launch(world.platform, "10")
    assert world.platform.token_requests == 1  # one roster read (the second launch: cached), one token
    from connectors.lti.services import NRPS_SCOPE, forget_rosters
    from connectors.lti.store import make_store

    store = make_store(world.ctx)
    reg_id = world.registration_id()
    import hashlib

    key = f"token:{reg_id}:{hashlib.sha256(NRPS_SCOPE.encode()).hexdigest()[:32]}"
    assert store.take(key) is not None  # expire it
    forget_rosters()  # and the roster, so the next launch calls NRPS again
    teacher.launch(world.platform, "10")
    assert world.platform.token_requests == 2


@pytest.mark.parametrize("kind", ["database", "redis"])
def test_store_take_has_exactly_one_winner(ctx, kind):
    from connectors.lti.store import DatabaseStore, RedisStore

    if kind == "redis":
        redis = pytest.importorskip("redis")
        try:
            redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=1).ping()
        except redis.RedisError:
            pytest.skip("Redis is not reachable on 127.0.0.1:6379")
        store = RedisStore("redis://127.0.0.1:6379/15")
    else:
        store = DatabaseStore(ctx)
    for round_ in range(5):
        key = f"race-{uuid.uuid4().hex}"
        store.put(key, {"v": round_}, 60)
        won, barrier = [], threading.Barrier(8)

        def take(key=key, won=won, barrier=barrier):
            barrier.wait()
            if store.take(key) is not None:
                won.append(1)

        threads = [threading.Thread(target=take) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1
    once = f"nonce-{uuid.uuid4().hex}"
    assert store.add(once, {}, 60) and not store.add(once, {}, 60)
    store.put("short", {"a": 1}, 0)
    assert store.get("short") is None or kind == "redis"
