"""The hub's own OB 2.0 verifier, over HTTP: what the demo and the public pages use to check a badge.

It follows the verification steps of https://www.imsglobal.org/spec/ob/v2p0/#verification
(hosted: fetch the assertion at its id, same origin as the issuer, not revoked; signed: JWS verified
with the key at ``verification.creator``, whose ``owner`` is the badge's issuer, and the id absent from
the issuer's RevocationList; recipient: ``sha256$`` hash of identity + salt). The tests check the same
outputs with an independent validator (tests/conformance/).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from hub.badges.recipient import hash_identity, identity_forms
from hub.credentials.baking import OB2_SVG_NS, unbake_png, unbake_svg
from hub.credentials.signing import verify_jws
from hub.errors import HubError


@dataclass
class Report:
    """Outcome of a verification: ``valid`` and the list of ``errors`` (human-readable)."""

    valid: bool = True
    errors: list[str] = field(default_factory=list)
    assertion: dict | None = None

    def fail(self, message: str) -> Report:
        self.valid = False
        self.errors.append(message)
        return self


def _get(url: str, http: requests.Session) -> requests.Response:
    return http.get(url, headers={"Accept": "application/ld+json, application/json"}, timeout=10)


def _origin(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


def _check_recipient(report: Report, assertion: dict, email: str | None) -> None:
    if email is None:
        return
    r = assertion.get("recipient", {})
    # the hub's form first, then the form awards issued before NFC/IDNA normalisation were hashed in
    forms = identity_forms(email)
    expected = [hash_identity(f, r.get("salt", "")) for f in forms] if r.get("hashed") else forms
    if r.get("identity") not in expected:
        report.fail("the recipient does not match")


def _check_badge_and_issuer(report: Report, assertion: dict, http: requests.Session) -> dict | None:
    badge = _get(assertion["badge"], http)
    if badge.status_code != 200:
        return report.fail(f"badge class {assertion['badge']} answered {badge.status_code}") and None
    issuer_url = badge.json().get("issuer")
    issuer = _get(issuer_url, http)
    if issuer.status_code != 200:
        return report.fail(f"issuer {issuer_url} answered {issuer.status_code}") and None
    return issuer.json()


def verify_hosted(url: str, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Verify a hosted assertion at ``url`` (optionally for recipient ``email``)."""
    http = http or requests.Session()
    report = Report()
    resp = _get(url, http)
    if resp.status_code == 410:
        return report.fail(f"revoked: {resp.json().get('revocationReason', 'no reason given')}")
    if resp.status_code != 200:
        return report.fail(f"the assertion answered HTTP {resp.status_code}")
    assertion = report.assertion = resp.json()
    if assertion.get("id") != url:
        report.fail("the assertion's id is not the URL it was fetched from")
    issuer = _check_badge_and_issuer(report, assertion, http)
    if issuer and _origin(issuer["id"]) != _origin(url):
        report.fail("the assertion is hosted outside the issuer's origin")
    _check_recipient(report, assertion, email)
    return report


def verify_signed(token: str, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Verify a compact JWS signed assertion (key, owner, revocation list, recipient)."""
    http = http or requests.Session()
    report = Report()
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))
        key_url = payload["verification"]["creator"]
    except (ValueError, IndexError, KeyError, TypeError):
        return report.fail("not a signed OB 2.0 assertion (no verification.creator)")
    key = _get(key_url, http).json()
    try:
        report.assertion = verify_jws(token, key["publicKeyPem"])
    except HubError as exc:
        return report.fail(exc.detail)
    issuer = _check_badge_and_issuer(report, report.assertion, http)
    if issuer:
        if key.get("owner") != issuer.get("id"):
            report.fail("the signing key is not owned by the badge's issuer")
        revoked = _get(issuer["revocationList"], http).json().get("revokedAssertions", [])
        ids = {r if isinstance(r, str) else r.get("id") for r in revoked}
        if report.assertion.get("id") in ids:
            report.fail("revoked (listed in the issuer's revocation list)")
    _check_recipient(report, report.assertion, email)
    return report


def verify_baked(data: bytes, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Unbake a PNG or SVG and verify what it carries (hosted JSON / URL, or JWS)."""
    if data.startswith(b"\x89PNG"):
        text = unbake_png(data, "openbadges")
        verify, body = (None, text)
    else:
        found = unbake_svg(data, tag="assertion", ns=OB2_SVG_NS)
        verify, body = found if found else (None, None)
    if not body and not verify:
        return Report().fail("no baked Open Badges 2.0 data found")
    candidate = verify or body
    if candidate and candidate.count(".") == 2 and not candidate.lstrip().startswith("{"):
        return verify_signed(candidate, email=email, http=http)
    if body and body.lstrip().startswith("{"):
        url = json.loads(body).get("id")
    else:
        url = (verify or body).strip()
    return verify_hosted(url, email=email, http=http)
