"""Every refused launch: a readable page for the person, a precise log line for the administrator."""

from __future__ import annotations

import logging
import time

import pytest
import requests

from .conftest import ADMIN, serve_hub
from .platform import LEARNER, forms, new_private_pem


def _refused(world, caplog, expected_log: str, *, status: int = 401, user: str = "4"):
    caplog.set_level(logging.WARNING, logger="connectors.lti")
    r = world.browser().launch(world.platform, user)
    assert r.status_code == status, r.text
    assert "text/html" in r.headers["content-type"]
    assert "Traceback" not in r.text and "<h1>" in r.text
    assert any(expected_log in rec.getMessage() for rec in caplog.records), [rec.getMessage() for rec in caplog.records]
    return r


def _tamper(world, fn):
    world.platform.registration.tamper = fn


def test_unknown_deployment_is_recorded_for_approval(world, caplog):
    _tamper(world, lambda p: {**p, "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "99"})
    r = _refused(world, caplog, "unknown or pending deployment_id '99'")
    assert "not yet approved" in r.text
    reg = requests.get(f"{world.hub}/api/v1/lti/registrations", headers=ADMIN).json()["items"][0]
    assert {"deployment_id": "99", "status": "pending"} in [
        {k: d[k] for k in ("deployment_id", "status")} for d in reg["deployments"]
    ]
    ok = requests.post(f"{world.hub}/api/v1/lti/registrations/{reg['id']}/deployments/99/approve", headers=ADMIN)
    assert ok.status_code == 200
    assert world.browser().launch(world.platform, "4").status_code == 200


@pytest.mark.parametrize("value", ["", None])
def test_empty_or_missing_deployment(world, caplog, value):
    claim = "https://purl.imsglobal.org/spec/lti/claim/deployment_id"
    _tamper(world, lambda p: {k: v for k, v in p.items() if k != claim} if value is None else {**p, claim: value})
    _refused(world, caplog, "empty or missing deployment_id")


def test_wrong_audience(world, caplog):
    _tamper(world, lambda p: {**p, "aud": "someone-else", "azp": "someone-else"})
    # Signed by the (Moodle) platform: a leftover LTI 1.1 consumer key (test_moodle_quirks.py).
    _refused(world, caplog, "is an LTI 1.1 consumer key")
    # From another platform, the plain refusal.
    caplog.clear()
    _tamper(
        world,
        lambda p: {**p, "aud": "someone-else", "https://purl.imsglobal.org/spec/lti/claim/tool_platform": {}},
    )
    _refused(world, caplog, "wrong audience")


def test_several_audiences_need_azp(world, caplog):
    _tamper(world, lambda p: {**p, "aud": ["other", world.platform.client_id], "azp": "other"})
    _refused(world, caplog, "wrong audience")


def test_bad_signature(world, caplog):
    world.platform.registration.signing_key = new_private_pem()  # same kid, another key
    _refused(world, caplog, "bad id_token signature")


def test_expired_token(world, caplog):
    world.platform.registration.clock_offset = -3600
    r = _refused(world, caplog, "expired id_token")
    assert "expired" in r.text


def test_missing_roles(world, caplog):
    _tamper(world, lambda p: {k: v for k, v in p.items() if not k.endswith("/claim/roles")})
    _refused(world, caplog, "Missing Roles Claim")


def test_platform_clock_five_seconds_ahead_is_accepted(world):
    world.platform.registration.clock_offset = 5  # PyJWT alone raises ImmatureSignatureError here
    assert world.browser().launch(world.platform, "4").status_code == 200


def test_platform_clock_two_minutes_ahead_is_refused(world, caplog):
    world.platform.registration.clock_offset = 120
    _refused(world, caplog, "in the future")


def test_unknown_registration_at_login(world, caplog):
    caplog.set_level(logging.WARNING, logger="connectors.lti")
    r = requests.get(
        f"{world.hub}/lti/login",
        params={"iss": "https://unknown.example.edu", "login_hint": "4"},
        headers={"Accept": "text/html", "Accept-Language": "en"},
        timeout=10,
    )
    assert r.status_code == 401 and "not registered" in r.text
    assert any(
        "unknown or inactive registration iss=https://unknown.example.edu" in rec.getMessage() for rec in caplog.records
    )


def test_login_by_post_and_target_on_another_host(world):
    p = world.platform
    base = {"iss": p.iss, "login_hint": "4", "client_id": p.client_id, "lti_message_hint": "x"}
    r = requests.post(f"{world.hub}/lti/login", data=base, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"].startswith(f"{p.base}/auth?")
    r = requests.get(
        f"{world.hub}/lti/login", params={**base, "target_link_uri": "https://evil.example/lti"}, timeout=10
    )
    assert r.status_code == 401


def test_replay_on_the_same_instance(world, caplog):
    b = world.browser()
    auth = b.open_from_platform(world.platform, "4")
    assert b.post_form(auth).status_code == 200
    caplog.set_level(logging.WARNING, logger="connectors.lti")
    again = b.post_form(auth)
    assert again.status_code == 401
    assert any("already used state" in rec.getMessage() for rec in caplog.records)


@pytest.fixture(params=["database", "redis"])
def store_kind(request, settings):
    if request.param == "redis":
        redis = pytest.importorskip("redis")
        try:
            redis.Redis.from_url("redis://127.0.0.1:6379/15", socket_connect_timeout=1).ping()
        except redis.RedisError:
            pytest.skip("Redis is not reachable on 127.0.0.1:6379")
        return settings.with_(redis_url="redis://127.0.0.1:6379/15")
    return settings


def test_replay_across_two_instances_sharing_the_store(store_kind, caplog):
    """Two app instances (as two gunicorn workers) share the store: a launch accepted by one is refused
    by the other, even with the same cookies."""
    from .conftest import make_badges, make_members
    from .platform import Platform, Served, create_platform_app

    app_a, url_a, stop_a = serve_hub(store_kind)
    app_b, _url_b, stop_b = serve_hub(store_kind)
    p = Platform(tool_base=url_a)
    served = Served(create_platform_app(p))
    try:
        p.base = served.url
        p.make_registration()
        make_members(p)
        ids = make_badges(app_a.extensions["hub"])
        body = p.hub_registration(badge_issuer=ids.issuer)
        assert requests.post(f"{url_a}/api/v1/lti/registrations", json=body, headers=ADMIN).ok
        b = __import__("tests.connectors.lti.platform", fromlist=["Browser"]).Browser()
        auth = b.open_from_platform(p, "4")
        form = forms(auth)[0]
        assert b.http.post(form["action"], data=form["fields"]).status_code == 200
        other = form["action"].replace(url_a, _url_b)
        cookies = {c.name: c.value for c in b.http.cookies}
        caplog.set_level(logging.WARNING, logger="connectors.lti")
        replay = requests.post(other, data=form["fields"], cookies=cookies, timeout=10)
        assert replay.status_code == 401
        assert any("already used state" in rec.getMessage() for rec in caplog.records)
    finally:
        served.stop()
        stop_a()
        stop_b()


def test_cookies_blocked_offers_a_new_window_without_replaying_the_hint(world, caplog):
    """The test platform's hint is no Moodle course module: the page asks for the activity to be opened
    again in a new tab, and never links the one-time hint (Moodle answers a used one with an error)."""
    b = world.browser()
    auth = b.open_from_platform(world.platform, "4")
    b.http.cookies.clear()  # what a browser blocking third-party cookies in the iframe sends back
    r = b.post_form(auth)
    assert r.status_code == 200 and 'id="lti-relaunch-hint"' in r.text
    assert "/lti/login" not in r.text and "lti_message_hint" not in r.text


def test_relaunch_url_is_moodles_launch_page_of_the_course_module():
    from connectors.lti.launch import relaunch_url

    moodle = {"iss": "https://moodle.example.edu", "lti_message_hint": '{"cmid":7,"launchid":"ltilaunch3_1"}'}
    assert relaunch_url(moodle) == "https://moodle.example.edu/mod/lti/launch.php?id=7"
    sub = {**moodle, "iss": "https://example.edu/moodle/", "lti_message_hint": '{"cmid":"12"}'}
    assert relaunch_url(sub) == "https://example.edu/moodle/mod/lti/launch.php?id=12"
    for hint in ("abc123", '{"launchid":"x"}', '{"cmid":"7&x=1"}', '{"cmid":true}', "[7]", ""):
        assert relaunch_url({**moodle, "lti_message_hint": hint}) is None, hint
    assert relaunch_url({**moodle, "iss": "javascript:alert(1)"}) is None


def test_state_cookie_is_samesite_none_secure_behind_tls(world):
    from hub.web.proxies import wrap

    p = world.platform

    def login():
        return requests.get(
            f"{world.hub}/lti/login",
            params={"iss": p.iss, "login_hint": "4", "client_id": p.client_id},
            headers={"X-Forwarded-Proto": "https"},
            allow_redirects=False,
            timeout=10,
        )

    # X-Forwarded-Proto from a peer that is not a trusted proxy (HUB_TRUSTED_PROXIES unset) is ignored.
    assert "SameSite=Lax" in login().headers["Set-Cookie"]
    world.app.wsgi_app = wrap(world.app.wsgi_app, ("127.0.0.1/32",))  # HUB_TRUSTED_PROXIES=127.0.0.1
    r = login()
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "SameSite=None" in cookie and "HttpOnly" in cookie and "Partitioned" in cookie
    assert f"redirect_uri={requests.utils.quote(world.hub, safe='')}" in r.headers["Location"].replace("%3A", "%3A")


def test_learner_role_and_sub_roles(world):
    from connectors.lti.launch import Launch

    c = "https://purl.imsglobal.org/spec/lti/claim/roles"
    assert not Launch("x", {c: [LEARNER]}).is_instructor
    for role in (
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
        "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
        "http://purl.imsglobal.org/vocab/lis/v2/system/person#SysAdmin",
        "Instructor",
    ):
        assert Launch("x", {c: [role]}).is_instructor, role
    assert time.time()


PL = "pl-PL,pl;q=0.9"


def _messages(caplog) -> list[str]:
    return [rec.getMessage() for rec in caplog.records if rec.name.startswith(("connectors.lti", "hub.web.errors"))]


def test_refusal_pages_speak_polish_and_english_and_the_log_stays_english(world, caplog):
    """Before the id_token's signature is checked, the refusal page follows the browser's language."""
    caplog.set_level(logging.WARNING)
    world.platform.registration.clock_offset = -3600  # an expired id_token
    polish = world.browser()
    polish.http.headers["Accept-Language"] = PL
    r = polish.launch(world.platform, "4")
    assert r.status_code == 401 and r.headers["Content-Language"] == "pl" and '<html lang="pl">' in r.text
    assert "<h1>Nie udało się otworzyć narzędzia kursu</h1>" in r.text
    assert "To uruchomienie wygasło. Otwórz narzędzie ponownie z kursu." in r.text
    english = world.browser().launch(world.platform, "4")
    assert english.status_code == 401 and english.headers["Content-Language"] == "en"
    assert "<h1>The course tool could not open</h1>" in english.text
    assert "This launch has expired. Open the tool again from your course." in english.text
    logged = _messages(caplog)
    assert sum("expired id_token" in m for m in logged) == 2
    assert not any("wygasło" in m or "narzędzia" in m for m in logged)  # English whatever the page said

    unknown = requests.get(
        f"{world.hub}/lti/login",
        params={"iss": "https://unknown.example.edu", "login_hint": "4"},
        headers={"Accept": "text/html", "Accept-Language": PL},
        timeout=10,
    )
    assert unknown.status_code == 401 and "nie jest zarejestrowana w Badge Hub" in unknown.text


def test_a_signed_launch_is_refused_in_the_language_of_its_locale_claim(world, caplog):
    """Once the platform's signature is verified, its ``locale`` claim decides, as on the tool's pages."""
    caplog.set_level(logging.WARNING)
    world.platform.locale = "pl-PL"
    _tamper(world, lambda p: {**p, "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "77"})
    r = world.browser().launch(world.platform, "4")  # the browser asks for English
    assert r.status_code == 401 and r.headers["Content-Language"] == "pl"
    assert "To umieszczenie narzędzia nie zostało jeszcze zatwierdzone przez administratora Badge Hub." in r.text
    assert any("unknown or pending deployment_id '77'" in m for m in _messages(caplog))
    world.platform.locale = "en-GB"
    r = world.browser().launch(world.platform, "4")
    assert "This course tool placement is not yet approved" in r.text
