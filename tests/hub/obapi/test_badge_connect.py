"""The Open Badges API over real HTTP: a Moodle-shaped Badge Connect host (tests/hub/obapi/support.py)
discovers the hub, registers (RFC 7591), gets the learner's consent with PKCE S256, exchanges the code,
pushes a badge, reads the profile and the assertions, refreshes, revokes; and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from hub.accounts.models import AuditEntry
from hub.backpack.models import ImportedBadge
from hub.obapi import services as obapi
from hub.obapi.models import OAuthClient, OAuthToken, digest
from tests.conftest import Factory, completion
from tests.hub.obapi.support import (
    CALLBACK,
    EMAIL,
    MoodleHost,
    browser_signed_in,
    code_from,
    connect,
    consent,
    csrf_of,
    pkce,
)


@pytest.fixture
def settings(settings):
    """The suite's settings, the verifier allowed to fetch 127.0.0.1 (where the hub hosts the badges
    pushed back to it); tests/conftest.py's ``live_server`` serves the app with them."""
    return settings.with_(verify_allow_private_hosts=True)


@pytest.fixture
def hub(live_server):
    return live_server.extensions["hub"]


@pytest.fixture
def base(hub):
    return hub.settings.base_url


def _moodle_assertion(live_server, hub) -> dict:
    """A hub-issued OB 2.0 assertion to ``EMAIL`` with its badge class and issuer embedded, as Moodle's
    ``core_badges_assertion::get_badge_assertion()`` sends one."""
    factory = Factory(hub)
    factory.setup()
    factory.learner(EMAIL)
    client = live_server.test_client()
    from tests.conftest import post_event

    assert post_event(client, completion(email=EMAIL, name="Zofia")).status_code in (200, 202)
    from hub.badges.models import Assertion

    with hub.db.session_scope() as s:
        aid = s.scalar(select(Assertion.public_id).where(Assertion.recipient_plain == EMAIL))
    assertion = requests.get(hub.urls.assertion_json(aid), headers={"Accept": "application/json"}, timeout=10).json()
    badge = requests.get(assertion["badge"], headers={"Accept": "application/json"}, timeout=10).json()
    badge["issuer"] = requests.get(badge["issuer"], headers={"Accept": "application/json"}, timeout=10).json()
    assertion["badge"] = badge
    return assertion


def test_moodle_connects_pushes_reads_refreshes_and_revokes(live_server, hub, base):
    host = MoodleHost(base)
    manifest = host.discover()
    assert manifest["badgeConnectAPI"][0]["apiBase"] == base + "/ims/ob/v2p1"
    reg = host.register()
    assert reg.status_code == 201, reg.text
    assert reg.json()["redirect_uris"] == [CALLBACK] and reg.json()["client_secret"]
    with hub.db.session_scope() as s:  # the secret is stored as a digest only
        row = s.scalar(select(OAuthClient).where(OAuthClient.client_id == host.client_id))
        assert row.secret_hash == digest(host.client_secret) and host.client_secret not in str(row.client_metadata)

    assertion = _moodle_assertion(live_server, hub)

    # an unsigned-in learner is sent to sign in, and comes back to the consent page
    browser = requests.Session()
    verifier, challenge = pkce()
    params = host.login_params(challenge)
    first = browser.get(host.api["authorizationUrl"], params=params, allow_redirects=False, timeout=10)
    assert first.status_code == 303 and first.headers["Location"].endswith("/me/login")
    from hub.learners import tokens

    with hub.db.session_scope() as s:
        link = tokens.issue(s, hub, tokens.LOGIN, EMAIL)
    page = browser.post(f"{base}/me/login/{link}", timeout=10)
    assert "/oauth/authorize?" in page.url and 'data-scope="' in page.text, page.text
    assert obapi.ASSERTION_CREATE in page.text and obapi.ASSERTION_READ in page.text
    assert "Zezwól" in page.text and "dodawanie odznak do Twojego plecaka" in page.text  # Polish by default
    english = browser.get(page.url + "&lang=en", timeout=10).text
    assert "Allow" in english and "add badges to your backpack" in english
    answer = browser.post(page.url, data={"csrf_token": csrf_of(page.text), "decision": "allow"}, allow_redirects=False)
    code = code_from(answer)

    tok = host.exchange(code, verifier)
    assert tok.status_code == 200, tok.text
    body = tok.json()
    assert body["token_type"].lower() == "bearer" and body["expires_in"] == 3600
    assert set(body["scope"].split()) == {obapi.ASSERTION_READ, obapi.ASSERTION_CREATE}
    assert host.exchange(code, verifier).json()["error"] == "invalid_grant"  # a code works once
    with hub.db.session_scope() as s:
        stored = s.scalar(select(OAuthToken))
        assert stored.access_hash == digest(body["access_token"])
        assert stored.refresh_hash == digest(body["refresh_token"])

    pushed = host.call("POST", "/assertions", body["access_token"], {"assertion": assertion})
    assert pushed.status_code == 200, pushed.text
    assert pushed.json()["status"]["statusCode"] == 200  # what Moodle checks for "Added to backpack"
    with hub.db.session_scope() as s:
        rows = s.scalars(select(ImportedBadge)).all()
        assert len(rows) == 1 and rows[0].badge_key == assertion["id"] and rows[0].state == "valid"
        actions = set(s.scalars(select(AuditEntry.action)))
        assert {"obapi.register", "obapi.authorize", "obapi.token", "backpack.import"} <= actions

    again = host.call("POST", "/assertions", body["access_token"], {"assertion": assertion["id"]})  # as a URL
    assert again.status_code == 200 and again.json()["results"][0]["id"] == assertion["id"], again.text
    with hub.db.session_scope() as s:
        assert len(s.scalars(select(ImportedBadge)).all()) == 1  # the same badge: its row is updated

    listed = host.call("GET", "/assertions", body["access_token"])
    assert listed.status_code == 200 and listed.headers["X-Total-Count"] == "1"
    assert listed.json()["results"][0]["id"] == assertion["id"]
    # the profile scope was dropped by Moodle's login URL: not granted, so refused
    assert host.call("GET", "/profile", body["access_token"]).status_code == 403

    fresh = host.refresh(body["refresh_token"], body["scope"])
    assert fresh.status_code == 200, fresh.text
    new = fresh.json()
    assert new["access_token"] != body["access_token"] and new["refresh_token"] != body["refresh_token"]
    assert host.call("GET", "/assertions", body["access_token"]).status_code == 401  # the old pair is gone
    assert host.refresh(body["refresh_token"], body["scope"]).json()["error"] == "invalid_grant"
    assert host.call("GET", "/assertions", new["access_token"]).status_code == 200

    home = browser.get(f"{base}/me", timeout=10).text
    assert "Moodle Szkoła" in home and 'id="connected"' in home

    revoked = host.http.post(
        f"{base}/oauth/revoke", data={"token": new["access_token"]}, auth=(host.client_id, host.client_secret)
    )
    assert revoked.status_code == 200
    with hub.db.session_scope() as s:
        assert "obapi.revoke" in set(s.scalars(select(AuditEntry.action)))
    gone = host.call("GET", "/assertions", new["access_token"])
    assert gone.status_code == 401 and gone.headers["Content-Type"] == "application/problem+json"
    assert 'error="invalid_token"' in gone.headers["WWW-Authenticate"]
    assert 'id="connected"' not in browser.get(f"{base}/me", timeout=10).text


def test_profile_and_ob3_credentials_with_v3_scopes(live_server, hub, base):
    assertion_scope = " ".join([obapi.PROFILE_READ_V2, *obapi.SCOPES_V3P0])
    aid = _moodle_assertion(live_server, hub)["id"].rsplit("/", 1)[-1]
    host, tok, _browser = connect(hub, base, scope=assertion_scope)
    profile = host.call("GET", "/profile", tok["access_token"]).json()["results"][0]
    assert profile["email"] == EMAIL and profile["type"] == "Profile"
    v3 = base + "/ims/ob/v3p0"
    auth = {"Authorization": "Bearer " + tok["access_token"]}
    discovery = requests.get(v3 + "/discovery", timeout=10).json()
    flows = discovery["components"]["securitySchemes"]["OAuth2ACG"]["flows"]["authorizationCode"]
    assert flows["tokenUrl"] == base + "/oauth/token" and obapi.CREDENTIAL_UPSERT in flows["scopes"]
    put = requests.put(v3 + "/profile", json={"name": "Zofia Łęcka"}, headers=auth, timeout=10)
    assert put.status_code == 200 and put.json()["name"] == "Zofia Łęcka"
    for bad in ("Zofia\nŁęcka", "x" * 300, 5):  # the name printed on certificates: one line of text
        assert requests.put(v3 + "/profile", json={"name": bad}, headers=auth, timeout=10).status_code == 422
    nul = requests.put(v3 + "/profile", json={"name": "\u202eZofia\u0000"}, headers=auth, timeout=10)
    assert nul.status_code in (200, 422) and "\x00" not in nul.text, nul.text  # control characters never stored
    creds = requests.get(v3 + "/credentials", headers=auth, timeout=10)
    assert creds.status_code == 200 and creds.json() == {"compactJwsString": [], "credential": []}
    jwt = requests.get(hub.urls.credential_jwt(aid), timeout=10).text.strip()
    plain = {**auth, "Content-Type": "text/plain"}
    first = requests.post(v3 + "/credentials", data=jwt, headers=plain, timeout=30)
    assert first.status_code == 201 and first.text == jwt, first.text
    assert requests.post(v3 + "/credentials", data=jwt, headers=plain, timeout=30).status_code == 200  # upsert
    listed = requests.get(v3 + "/credentials", headers=auth, timeout=10)
    assert listed.json()["compactJwsString"] == [jwt] and listed.headers["X-Total-Count"] == "1"
    credential = requests.get(hub.urls.credential_json(aid), timeout=10).json()
    as_json = requests.post(v3 + "/credentials", json=credential, headers=auth, timeout=30)
    assert as_json.status_code in (200, 201) and as_json.json()["id"] == credential["id"]
    bad = requests.post(v3 + "/credentials", data="not a credential", headers={**auth, "Content-Type": "text/plain"})
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    with hub.db.session_scope() as s:  # the refused one left nothing behind
        assert len(s.scalars(select(ImportedBadge.id)).all()) == len({credential["id"], first_key(jwt)})


def first_key(jwt: str) -> str:
    """The credential id inside a VC-JWT (its ``jti``, or ``vc.id``)."""
    import base64
    import json

    payload = json.loads(base64.urlsafe_b64decode(jwt.split(".")[1] + "=="))
    return payload.get("jti") or payload.get("vc", payload).get("id")


def test_refusals(live_server, hub, base):
    Factory(hub).learner(EMAIL)
    host = MoodleHost(base)
    host.discover()
    # registration: no redirect URI, an unknown scope
    assert host.register(redirect_uris=[]).status_code == 400
    assert host.register(scope="https://example.org/scope/everything").json()["error"] == "invalid_client_metadata"
    # members of the wrong JSON type, text that cannot be stored or shown: 400, never a 500 or a 503
    for bad in (
        {"redirect_uris": [123]},
        {"scope": 123},
        {"client_name": {"a": 1}},
        {"client_name": "evil\u0000"},
        {"client_name": "two\nlines"},
        {"client_name": "x" * 300},
        {"redirect_uris": ["https://a.example/cb\u0000"]},
    ):
        r = host.register(**bad)
        assert (r.status_code, r.json()["error"]) == (400, "invalid_client_metadata"), (bad, r.text)
    assert host.register().status_code == 201
    browser = browser_signed_in(hub, base)
    authorize = host.api["authorizationUrl"]
    verifier, challenge = pkce()

    # a redirect URI the client did not register: answered on the hub, never redirected
    foreign = browser.get(
        authorize, params=host.login_params(challenge, redirect_uri="https://evil.example/cb"), allow_redirects=False
    )
    assert foreign.status_code == 400 and "evil.example" not in foreign.headers.get("Location", "")
    # no PKCE, or plain PKCE
    nopkce = host.login_params(challenge)
    del nopkce["code_challenge"], nopkce["code_challenge_method"]
    # the client and its redirect URI are known: the error goes back to it, with its state (RFC 6749 4.1.2.1)
    for params, error in (
        (nopkce, "invalid_request"),
        (host.login_params(challenge, code_challenge_method="plain"), "invalid_request"),
        (host.login_params(challenge, scope="https://example.org/x"), "invalid_scope"),  # a scope not offered
    ):
        r = browser.get(authorize, params=params, allow_redirects=False)
        assert r.status_code == 302 and r.headers["Location"].startswith(CALLBACK), (error, r.text)
        back = parse_qs(urlsplit(r.headers["Location"]).query)
        assert back["error"] == [error] and back["state"] == [params["state"]], back

    # the learner denies
    denied = consent(browser, authorize, host.login_params(challenge), decision="deny")
    assert denied.status_code == 302 and "error=access_denied" in denied.headers["Location"]

    # a wrong PKCE verifier
    code = code_from(consent(browser, authorize, host.login_params(challenge)))
    bad = host.exchange(code, pkce()[0])
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    # a wrong client secret
    code = code_from(consent(browser, authorize, host.login_params(challenge)))
    host_secret, host.client_secret = host.client_secret, "wrong"
    assert host.exchange(code, verifier).status_code == 401
    host.client_secret = host_secret

    # read-only token: may not push; an expired token is refused
    code = code_from(consent(browser, authorize, host.login_params(challenge, scope=obapi.ASSERTION_READ)))
    tok = host.exchange(code, verifier).json()
    denied_push = host.call("POST", "/assertions", tok["access_token"], {"assertion": {}})
    assert denied_push.status_code == 403 and 'error="insufficient_scope"' in denied_push.headers["WWW-Authenticate"]
    with hub.db.session_scope() as s:
        row = s.scalar(select(OAuthToken).where(OAuthToken.access_hash == digest(tok["access_token"])))
        row.access_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    expired = host.call("GET", "/assertions", tok["access_token"])
    assert expired.status_code == 401 and 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    assert host.call("GET", "/assertions", "not-a-token").status_code == 401
    assert requests.get(host.api["apiBase"] + "/assertions", timeout=10).status_code == 401

    # a push token: not a badge (422, Moodle reads "error"), oversized (413); nothing stored
    code = code_from(consent(browser, authorize, host.login_params(challenge)))
    push = host.exchange(code, verifier).json()["access_token"]
    notbadge = host.call("POST", "/assertions", push, {"assertion": {"name": "nope"}})
    assert notbadge.status_code == 422 and notbadge.json()["error"]
    assert notbadge.headers["Content-Type"] == "application/problem+json"
    assert host.call("POST", "/assertions", push, {"nothing": 1}).status_code == 422
    huge = host.call("POST", "/assertions", push, {"assertion": "x" * (hub.settings.verify_max_bytes + 70000)})
    assert huge.status_code == 413
    with hub.db.session_scope() as s:
        assert s.scalar(select(ImportedBadge.id)) is None


def test_learner_disconnects_an_application(live_server, hub, base):
    Factory(hub).learner(EMAIL)
    host, tok, browser = connect(hub, base)
    home = browser.get(f"{base}/me", timeout=10)
    assert 'id="connected"' in home.text
    with hub.db.session_scope() as s:
        client_public_id = s.scalar(select(OAuthClient.public_id))
    gone = browser.post(f"{base}/me/connections/{client_public_id}/delete", data={"csrf_token": csrf_of(home.text)})
    assert gone.status_code == 200 and 'id="connected"' not in gone.text
    assert host.call("GET", "/assertions", tok["access_token"]).status_code == 401
    assert host.refresh(tok["refresh_token"], tok["scope"]).json()["error"] == "invalid_grant"
    # without the CSRF token nothing happens
    assert browser.post(f"{base}/me/connections/{client_public_id}/delete").status_code == 400


def test_rate_limit_and_settings(settings):
    from hub import create_app

    app = create_app(settings.with_(obapi_rate_limit="2 per minute", obapi_access_token_minutes=5))
    try:
        client = app.test_client()
        codes = [client.get("/ims/ob/v2p1/profile").status_code for _ in range(3)]
        assert codes == [401, 401, 429]
        assert client.get("/ims/ob/v2p1/profile").headers["Content-Type"] == "application/problem+json"
        from hub.web.obapi import server

        with app.test_request_context():  # HUB_OBAPI_ACCESS_TOKEN_MINUTES takes effect
            client_row = OAuthClient(
                client_id="c", secret_hash="", name="M", client_metadata={"scope": obapi.ASSERTION_READ}
            )
            made = server().generate_token("authorization_code", client=client_row, scope=obapi.ASSERTION_READ)
        assert made["expires_in"] == 300 and made["refresh_token"] and made["scope"] == obapi.ASSERTION_READ
    finally:
        app.extensions["hub.jobs"].shutdown()
        app.extensions["hub"].db.dispose()


def test_purge_job_removes_expired_codes_and_dead_tokens(ctx, factory):
    from hub import jobs
    from hub.learners.models import Learner
    from hub.obapi.models import OAuthCode
    from hub.operations import obapi as obapi_ops

    assert obapi_ops.PURGE in jobs.KINDS and jobs.KINDS[obapi_ops.PURGE].schedule is not None
    factory.learner(EMAIL)
    now = datetime.now(UTC)
    with ctx.db.session_scope() as s:
        learner = s.scalar(select(Learner))
        client = obapi.register_client(s, {"redirect_uris": [CALLBACK], "client_name": "M"}, "cid", "secret")
        obapi.save_code(
            s,
            client,
            learner,
            "live",
            redirect_uri=CALLBACK,
            scope="",
            code_challenge="c" * 43,
            code_challenge_method="S256",
        )
        old = obapi.save_code(
            s, client, learner, "old", redirect_uri=CALLBACK, scope="", code_challenge=None, code_challenge_method=None
        )
        old.expires_at = now - timedelta(seconds=1)
        keep = obapi.save_token(
            s, ctx.settings, client, learner.id, {"access_token": "a1", "refresh_token": "r1", "expires_in": 60}
        )
        dead = obapi.save_token(
            s, ctx.settings, client, learner.id, {"access_token": "a2", "refresh_token": "r2", "expires_in": 60}
        )
        dead.refresh_expires_at = now - timedelta(seconds=1)
        gone = obapi.save_token(s, ctx.settings, client, learner.id, {"access_token": "a3", "expires_in": 60})
        gone.revoked_at = now - timedelta(days=obapi.KEEP_REVOKED_DAYS + 1)
        keep_id = keep.id
    with ctx.db.session_scope() as s:
        assert obapi.purge(s) == 3
    with ctx.db.session_scope() as s:
        assert [c.code_hash for c in s.scalars(select(OAuthCode))] == [digest("live")]
        assert [t.id for t in s.scalars(select(OAuthToken))] == [keep_id]
