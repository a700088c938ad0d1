"""The LTI login and launch with platform storage (1EdTech LTI Client Side postMessages,
https://www.imsglobal.org/spec/lti-cs-oidc/v0p1) over real HTTP: the login page puts a proof in the
platform's storage, a launch without the state cookie has the browser read it back, and only the tool's
own page may post it (the browser runs the postMessage part in tests/browser/test_lti_cross_site.py)."""

from __future__ import annotations

import json
import logging
import re

import requests

from .platform import forms

CONFIG = re.compile(r'<script type="application/json" id="lti-storage-data">(.*?)</script>', re.S)


def _config(page: requests.Response) -> dict:
    found = CONFIG.search(page.text)
    assert found, page.text
    return json.loads(found.group(1))


def _login(world, **extra) -> requests.Response:
    p = world.platform
    # The platform names the storage frame in its auth response too.
    p.hints["h1"] = {"kind": "resource", "custom": {}, "storage_target": extra.get("lti_storage_target")}
    params = {"iss": p.iss, "login_hint": "4", "lti_message_hint": "h1", "client_id": p.client_id, **extra}
    return requests.get(f"{world.hub}/lti/login", params=params, allow_redirects=False, timeout=10)


def _launch_form(world, login: requests.Response) -> dict:
    """Follow the login to the platform's auth endpoint; the fields it auto-posts to the tool."""
    auth = requests.get(_config(login)["next"], timeout=10)
    assert auth.status_code == 200, auth.text
    return forms(auth)[0]


def test_login_with_a_storage_target_puts_the_proof_before_going_to_the_platform(world):
    r = _login(world, lti_storage_target="_parent")
    assert r.status_code == 200 and "lti1p3-state-" in r.headers["Set-Cookie"]
    cfg = _config(r)
    state = r.headers["Set-Cookie"].split("=", 1)[0].removeprefix("lti1p3-")
    assert cfg["action"] == "put" and cfg["target"] == "_parent"
    assert cfg["origin"] == world.platform.base  # the platform's OIDC auth URL origin
    assert cfg["key"] == f"state_{state}" and len(cfg["value"]) >= 32
    assert cfg["next"].startswith(f"{world.platform.base}/auth?") and f"state={state}" in cfg["next"]
    for target in ("", "a b", "x<script>", "f" * 65):  # not a frame name: a plain redirect, as before
        assert _login(world, lti_storage_target=target).status_code == 302


def test_a_launch_without_cookie_reads_platform_storage_and_accepts_the_proof(world, caplog):
    caplog.set_level(logging.INFO, logger="connectors.lti")
    login = _login(world, lti_storage_target="post_message_forwarding")
    proof = _config(login)["value"]
    form = _launch_form(world, login)
    assert form["fields"]["lti_storage_target"] == "post_message_forwarding"
    check = requests.post(form["action"], data=form["fields"], timeout=10)  # no cookie
    assert check.status_code == 200
    cfg = _config(check)
    assert cfg["action"] == "get" and cfg["target"] == "post_message_forwarding" and cfg["field"] == "lti_storage_value"
    again = forms(check)[0]
    assert again["action"] == f"{world.hub}/lti/launch" and again["fields"]["state"] == form["fields"]["state"]
    assert check.headers["Content-Security-Policy"] == f"frame-ancestors {world.platform.base}"

    done = requests.post(
        again["action"],
        data={**again["fields"], "lti_storage_value": proof},
        headers={"Sec-Fetch-Site": "same-origin"},
        timeout=10,
    )
    assert done.status_code == 200 and "My badges" in done.text
    assert any("confirmed by platform storage" in r.getMessage() for r in caplog.records)
    replay = requests.post(
        again["action"],
        data={**again["fields"], "lti_storage_value": proof},
        headers={"Sec-Fetch-Site": "same-origin"},
        timeout=10,
    )
    assert replay.status_code == 401  # the state is used up


def test_a_wrong_or_missing_proof_offers_the_new_window_and_uses_the_state_up(world):
    for value in ("not-the-proof", "", "zażółć"):
        login = _login(world, lti_storage_target="_parent")
        check = requests.post(**_post(_launch_form(world, login)))
        fields = forms(check)[0]["fields"]
        r = requests.post(
            f"{world.hub}/lti/launch",
            data={**fields, "lti_storage_value": value},
            headers={"Sec-Fetch-Site": "same-origin"},
            timeout=10,
        )
        assert r.status_code == 200 and 'id="lti-relaunch-hint"' in r.text
        again = requests.post(f"{world.hub}/lti/launch", data=fields, timeout=10)
        assert again.status_code == 401


def test_a_proof_posted_from_another_site_is_refused(world, caplog):
    caplog.set_level(logging.WARNING, logger="connectors.lti")
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://attacker.example"}):
        login = _login(world, lti_storage_target="_parent")
        proof = _config(login)["value"]
        check = requests.post(**_post(_launch_form(world, login)))
        fields = {**forms(check)[0]["fields"], "lti_storage_value": proof}
        r = requests.post(f"{world.hub}/lti/launch", data=fields, headers=headers, timeout=10)
        assert r.status_code == 401 and "My badges" not in r.text
    assert any("posted from outside the tool's check page" in r.getMessage() for r in caplog.records)


def _post(form: dict) -> dict:
    return {"url": form["action"], "data": form["fields"], "timeout": 10}
