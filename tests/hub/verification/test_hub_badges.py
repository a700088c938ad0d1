"""The verifier on every form of badge this hub makes, over real HTTP (live server on loopback, the
guard allowing loopback only through the tests' fetcher)."""

from __future__ import annotations

import requests

from hub.badges.models import Assertion
from hub.certificates import services as certificates
from tests.conftest import BADGE_SVG
from tests.hub.verification.support import EMAIL, award_one, check, statuses


def test_ob2_hosted_signed_and_baked_forms_verify(live_server):
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    v = check(live_server, url=ctx.urls.assertion(aid))
    assert v.state == "valid", v.as_json()
    assert v.kind == "ob2-hosted" and statuses(v)["recipient"] == "passed" and statuses(v)["hosted"] == "passed"
    jws = requests.get(ctx.urls.assertion_signed(aid), timeout=10).text
    v = check(live_server, text=jws)
    assert v.state == "valid" and v.kind == "ob2-signed", v.as_json()
    assert statuses(v)["revocation"] == "passed" and statuses(v)["key"] == "passed"
    for suffix in ("", "?form=signed"):
        png = requests.get(ctx.urls.assertion_baked(aid) + suffix, timeout=10).content
        v = check(live_server, data=png)
        assert v.state == "valid", (suffix, v.as_json())
        assert statuses(v)["unbake"] == "passed"


def test_ob2_baked_svg_hosted_and_verify_attribute_only(live_server):
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server, image=BADGE_SVG.encode())
    for form in ("hosted", "signed"):
        svg = requests.get(ctx.urls.assertion_baked(aid, "svg") + f"?form={form}", timeout=10).content
        v = check(live_server, data=svg)
        assert v.state == "valid", (form, v.as_json())
    signed = [c for c in v.checks if c.name == "unbake"][0]
    assert signed.code == "svg-verify"
    for fmt in ("ldp", "jwt"):  # OB 3.0 <openbadges:credential>: JSON in the element, or the JWT in verify
        svg = requests.get(ctx.urls.credential_baked(aid, "svg", fmt), timeout=10).content
        v = check(live_server, data=svg)
        assert v.state == "valid" and v.kind.startswith("ob3"), (fmt, v.as_json())


def test_ob3_data_integrity_jwt_baked_and_pdf_verify(live_server):
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    cred = requests.get(ctx.urls.credential(aid), headers={"Accept": "application/vc+ld+json"}, timeout=10).text
    v = check(live_server, text=cred)
    assert v.state == "valid" and v.kind == "ob3-data-integrity", v.as_json()
    assert {
        k: statuses(v)[k] for k in ("contexts", "schema", "proof", "key", "revocation", "recipient")
    } == dict.fromkeys(("contexts", "schema", "proof", "key", "revocation", "recipient"), "passed")
    jwt = requests.get(ctx.urls.credential_jwt(aid), timeout=10).text
    v = check(live_server, text=jwt)
    assert v.state == "valid" and v.kind == "ob3-vc-jwt", v.as_json()
    for fmt in ("ldp", "jwt"):
        png = requests.get(ctx.urls.credential_baked(aid, "png", fmt), timeout=10).content
        v = check(live_server, data=png)
        assert v.state == "valid", (fmt, v.as_json())
    v = check(live_server, url=ctx.urls.credential(aid))
    assert v.state == "valid", v.as_json()
    pdf = certificate_pdf(ctx, aid)
    v = check(live_server, data=pdf)
    assert v.state == "valid" and v.kind == "pdf", v.as_json()


def test_wrong_recipient_is_its_own_reason(live_server):
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    v = check(live_server, emails=["someone.else@example.org"], url=ctx.urls.assertion(aid))
    assert v.state == "invalid"
    assert [c.code for c in v.checks if c.status == "failed"] == ["wrong-recipient"]
    v = check(live_server, emails=[], url=ctx.urls.assertion(aid))
    assert v.state == "valid" and statuses(v)["recipient"] == "skipped"
    assert EMAIL


def certificate_pdf(ctx, aid: str) -> bytes:
    with ctx.db.session_scope() as s:
        return certificates.certificate_pdf(s, ctx, s.query(Assertion).filter_by(public_id=aid).one())
