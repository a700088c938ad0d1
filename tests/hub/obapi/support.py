"""A Badge Connect (OB 2.1) host built from the spec and from what Moodle's backpack client sends
(badges/classes/backpack_api2p1*.php, badges/classes/oauth2/client.php, lib/classes/oauth2/discovery/
imsbadgeconnect.php), talking to a live hub over real HTTP with ``requests``.

Moodle's shapes: registration is a JSON POST (``Content-type: application/json``, ``Accept:
application/json``) with ``client_name, client_uri, logo_uri, tos_uri, policy_uri, software_id,
software_version, redirect_uris [<wwwroot>/admin/oauth2callback.php], token_endpoint_auth_method
client_secret_basic, grant_types [authorization_code, refresh_token], response_types [code], scope`` (the
manifest's scopes, space-separated). The login URL carries ``client_id, response_type=code,
redirect_uri, state, scope`` (the offered scopes after Moodle drops the first one), ``code_challenge``
and ``code_challenge_method=S256``. The code is exchanged with HTTP Basic client authentication and a
form body ``code, grant_type, redirect_uri, scope, code_verifier``; a refresh sends ``refresh_token,
grant_type, scope, client_id, client_secret`` in the body. API calls send ``Authorization: Bearer``,
``Content-type: application/json``, ``Accept: application/json`` and an empty ``Expect:``; the push body is
``{"assertion": <the OB 2.0 assertion with the badge class and issuer embedded>}``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import requests

from hub.learners import tokens

EMAIL = "zofia@example.edu"
MOODLE = "https://moodle.example.edu/"
CALLBACK = MOODLE + "admin/oauth2callback.php"


def pkce() -> tuple[str, str]:
    """``(verifier, S256 challenge)`` made as Moodle makes them (43 random bytes, base64url)."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(43)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@dataclass
class MoodleHost:
    base: str
    manifest: dict = field(default_factory=dict)
    client_id: str = ""
    client_secret: str = ""
    http: requests.Session = field(default_factory=requests.Session)

    @property
    def api(self) -> dict:
        return self.manifest["badgeConnectAPI"][0]

    def discover(self) -> dict:
        resp = self.http.get(self.base + "/.well-known/badgeconnect.json", timeout=10)
        assert resp.status_code == 200, resp.text
        self.manifest = resp.json()
        return self.manifest

    def register(self, **changes) -> requests.Response:
        body = {
            "client_name": "Moodle Szkoła",
            "client_uri": MOODLE,
            "logo_uri": MOODLE + "pix/f/moodle-256.png",
            "tos_uri": MOODLE,
            "policy_uri": MOODLE,
            "software_id": "moodle",
            "software_version": "2025100600",
            "redirect_uris": [CALLBACK],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "scope": " ".join(self.api["scopesOffered"]),
            **changes,
        }
        resp = self.http.post(
            self.api["registrationUrl"],
            json=body,
            headers={"Content-type": "application/json", "Accept": "application/json"},
            timeout=10,
        )
        if resp.status_code == 201:
            self.client_id, self.client_secret = resp.json()["client_id"], resp.json()["client_secret"]
        return resp

    def login_params(self, challenge: str, *, scope: str | None = None, **changes) -> dict:
        offered = self.api["scopesOffered"]
        return {
            "client_id": self.client_id,
            "response_type": "code",
            "redirect_uri": CALLBACK,
            "state": "sesskey123",
            "scope": scope if scope is not None else " ".join(offered[1:]),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **changes,
        }

    def exchange(self, code: str, verifier: str) -> requests.Response:
        return self.http.post(
            self.api["tokenUrl"],
            data={
                "code": code,
                "grant_type": "authorization_code",
                "redirect_uri": CALLBACK,
                "scope": "",
                "code_verifier": verifier,
            },
            auth=(self.client_id, self.client_secret),
            timeout=10,
        )

    def refresh(self, refresh_token: str, scope: str) -> requests.Response:
        return self.http.post(
            self.api["tokenUrl"],
            data={
                "refresh_token": refresh_token,
                "grant_type": "refresh_token",
                "scope": scope,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
            timeout=10,
        )

    def call(self, method: str, path: str, token: str, body=None) -> requests.Response:
        headers = {
            "Authorization": "Bearer " + token,
            "Content-type": "application/json",
            "Accept": "application/json",
            "Expect": "",
        }
        import json

        data = json.dumps(body) if method == "POST" else None
        return self.http.request(method, self.api["apiBase"] + path, headers=headers, data=data, timeout=30)


def browser_signed_in(ctx, base: str, email: str = EMAIL) -> requests.Session:
    """A browser of the learner with ``email``, signed in by a magic link."""
    browser = requests.Session()
    with ctx.db.session_scope() as s:
        token = tokens.issue(s, ctx, tokens.LOGIN, email)
    resp = browser.post(f"{base}/me/login/{token}", timeout=10)
    assert resp.status_code == 200, resp.text
    return browser


def consent(browser: requests.Session, authorize_url: str, params: dict, decision: str = "allow") -> requests.Response:
    """Open the consent page and answer it; returns the answer (a redirect, not followed)."""
    page = browser.get(authorize_url, params=params, timeout=10)
    assert page.status_code == 200, page.text
    return browser.post(
        page.url, data={"csrf_token": csrf_of(page.text), "decision": decision}, allow_redirects=False, timeout=10
    )


def code_from(resp: requests.Response) -> str:
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(CALLBACK), location
    query = parse_qs(urlparse(location).query)
    assert query["state"] == ["sesskey123"]
    return query["code"][0]


def connect(ctx, base: str, *, scope: str | None = None) -> tuple[MoodleHost, dict, requests.Session]:
    """Discover, register, consent and exchange: ``(host, token response, learner's browser)``."""
    host = MoodleHost(base)
    host.discover()
    assert host.register(**({"scope": scope} if scope else {})).status_code == 201
    browser = browser_signed_in(ctx, base)
    verifier, challenge = pkce()
    code = code_from(consent(browser, host.api["authorizationUrl"], host.login_params(challenge, scope=scope)))
    resp = host.exchange(code, verifier)
    assert resp.status_code == 200, resp.text
    return host, resp.json(), browser
