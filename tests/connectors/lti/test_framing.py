"""``Content-Security-Policy: frame-ancestors`` on the tool's pages, read from real responses: the
launched platform may frame its pages, another registered platform and unknown origins may not; a
deactivated registration loses framing at once; the console still refuses any framing.
(The same checked by Chromium itself: tests/browser/test_lti_console.py.)"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
import requests

from connectors.lti.framing import launch_origins, origin, policy

from .conftest import ADMIN
from .platform import forms

OTHER = "https://moodle.other.example"
HTML = {"Accept": "text/html", "Accept-Language": "en"}


def _ancestors(response) -> list[str]:
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("frame-ancestors ") and ";" not in csp, csp
    assert "X-Frame-Options" not in response.headers
    return csp.removeprefix("frame-ancestors ").split()


@pytest.fixture
def two_platforms(world):
    """``world``'s platform and another registered, active one (at another origin)."""
    other = {
        "issuer": OTHER,
        "client_id": "other-1",
        "auth_login_url": "https://sso.other.example:8443/auth",
        "auth_token_url": f"{OTHER}/token",
        "key_set_url": f"{OTHER}/jwks",
        "deployment_ids": ["1"],
        "badge_issuer": world.badges.issuer,
    }
    assert requests.post(f"{world.hub}/api/v1/lti/registrations", json=other, headers=ADMIN, timeout=10).ok
    return world


def test_origin_is_scheme_host_and_port_only():
    assert origin("https://Moodle.Example.edu/mod/lti/auth.php?x=1") == "https://moodle.example.edu"
    assert origin("https://canvas.example:443/") == "https://canvas.example"
    assert origin("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert origin("https://[2001:db8::1]:8443/lti") == "https://[2001:db8::1]:8443"
    for bad in ("ftp://x.example", "https://", "https://a.example;script-src *", "https://a b.example", None, ""):
        assert origin(bad) is None, bad
    assert policy([]) == "frame-ancestors 'none'"
    assert policy(["https://a.example", "https://a.example", "https://b.example"]) == (
        "frame-ancestors https://a.example https://b.example"
    )
    claims = {
        "https://purl.imsglobal.org/spec/lti/claim/launch_presentation": {"return_url": "https://school.test/c/1"},
        "https://purl.imsglobal.org/spec/lti/claim/tool_platform": {"url": 7},
    }
    assert launch_origins(claims) == ("https://school.test",)


def test_launch_and_course_pages_are_framable_by_their_platform_only(two_platforms):
    world = two_platforms
    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    assert page.status_code == 200
    assert _ancestors(page) == [world.platform.base]  # issuer and auth URL share the origin
    launch_id = forms(page)[0]["fields"]["launch"]
    course = requests.get(f"{world.hub}/lti/course", params={"launch": launch_id}, headers=HTML, timeout=10)
    assert course.status_code == 200 and _ancestors(course) == [world.platform.base]
    assert OTHER not in course.headers["Content-Security-Policy"]
    mine = requests.get(f"{world.hub}/lti/badges", params={"launch": launch_id}, headers=HTML, timeout=10)
    learner = world.browser().launch(world.platform, "4")
    assert _ancestors(learner) == _ancestors(mine) == [world.platform.base]


def test_the_lms_page_named_by_the_launch_may_frame_it(world):
    """Canvas signs in on its own hosts but shows the tool on the school's host (the return URL)."""
    presentation = "https://purl.imsglobal.org/spec/lti/claim/launch_presentation"
    world.platform.registration.tamper = lambda c: {
        **c,
        presentation: {**c[presentation], "return_url": "https://school.instructure.test/courses/9"},
    }
    page = world.browser().launch(world.platform, "4")
    assert page.status_code == 200
    assert _ancestors(page) == [world.platform.base, "https://school.instructure.test"]


def test_pages_of_unknown_platforms_may_not_be_framed(two_platforms):
    world = two_platforms
    login = requests.get(
        f"{world.hub}/lti/login",
        params={"iss": "https://unknown.example.edu", "login_hint": "4"},
        headers=HTML,
        timeout=10,
    )
    assert login.status_code == 401 and _ancestors(login) == ["'none'"]
    # A page whose platform cannot be told (an expired launch): any registered, active platform.
    expired = requests.get(f"{world.hub}/lti/badges", params={"launch": "gone"}, headers=HTML, timeout=10)
    assert expired.status_code == 403
    assert set(_ancestors(expired)) == {world.platform.base, OTHER, "https://sso.other.example:8443"}


def test_a_refused_deployment_is_shown_inside_its_own_platform(world):
    world.platform.registration.tamper = lambda c: {**c, "https://purl.imsglobal.org/spec/lti/claim/deployment_id": "9"}
    refused = world.browser().launch(world.platform, "4")
    assert refused.status_code == 401 and "not yet approved" in refused.text
    assert _ancestors(refused) == [world.platform.base]


def test_dynamic_registration_page_is_framable_by_the_registering_platform(hub_server, bare_platform):
    _app, hub = hub_server
    config = f"{bare_platform.base}/.well-known/openid-configuration"
    query = urlencode({"openid_configuration": config, "registration_token": bare_platform.registration_token})
    r = requests.get(f"{hub}/lti/register?{query}", headers=HTML, timeout=20)
    assert r.status_code == 200 and _ancestors(r) == [bare_platform.base]
    bad = requests.get(f"{hub}/lti/register", params={"openid_configuration": "javascript:x"}, headers=HTML)
    assert bad.status_code == 400 and _ancestors(bad) == ["'none'"]


def test_deactivating_a_registration_withdraws_framing_at_once(world):
    page = world.browser().launch(world.platform, "10")
    launch_id = forms(page)[0]["fields"]["launch"]
    assert requests.post(
        f"{world.hub}/api/v1/lti/registrations/{world.registration_id()}/deactivate", headers=ADMIN, timeout=10
    ).ok
    course = requests.get(f"{world.hub}/lti/course", params={"launch": launch_id}, headers=HTML, timeout=10)
    assert _ancestors(course) == ["'none'"]
    jwks = requests.get(f"{world.hub}/lti/jwks", timeout=10)
    assert _ancestors(jwks) == ["'none'"]  # no active platform left


def test_the_console_is_never_framed(world):
    r = requests.get(f"{world.hub}/admin/login", timeout=10)
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"] and r.headers["X-Frame-Options"] == "DENY"
