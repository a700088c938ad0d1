"""Tampered, revoked and badly baked badges made by the hub: each gets its own reason, never "valid"."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import requests

from hub.badges import services as badges
from hub.badges.models import Assertion
from hub.credentials.baking import PNG_SIGNATURE
from tests.hub.verification.support import award_one, check, statuses


def _revoke(ctx, aid):
    with ctx.db.session_scope() as s:
        badges.revoke(s, ctx, s.query(Assertion).filter_by(public_id=aid).one(), "Ściąganie na egzaminie")


def _failed(v):
    return [c.code for c in v.checks if c.status == "failed"]


def test_tampered_proofs_and_signatures_fail(live_server):
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    cred = json.loads(
        requests.get(ctx.urls.credential(aid), headers={"Accept": "application/vc+ld+json"}, timeout=10).text
    )
    cred["credentialSubject"]["achievement"]["name"] = "Podrobiona odznaka"
    v = check(live_server, text=json.dumps(cred))
    assert v.state == "invalid" and _failed(v) == ["bad-proof"], v.as_json()

    jwt = requests.get(ctx.urls.credential_jwt(aid), timeout=10).text
    head, body, sig = jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["validUntil"] = "2999-01-01T00:00:00Z"
    forged = ".".join([head, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(), sig])
    v = check(live_server, text=forged)
    assert v.state == "invalid" and _failed(v) == ["bad-signature"]

    jws = requests.get(ctx.urls.assertion_signed(aid), timeout=10).text
    h, b, s = jws.split(".")
    assertion = json.loads(base64.urlsafe_b64decode(b + "=="))
    assertion["recipient"]["identity"] = "sha256$" + "0" * 64
    forged = ".".join([h, base64.urlsafe_b64encode(json.dumps(assertion).encode()).rstrip(b"=").decode(), s])
    v = check(live_server, text=forged)
    assert v.state == "invalid" and _failed(v) == ["bad-signature"]


def test_revoked_badges_are_revoked_in_every_form(live_server):
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    jws = requests.get(ctx.urls.assertion_signed(aid), timeout=10).text
    cred = requests.get(ctx.urls.credential(aid), headers={"Accept": "application/vc+ld+json"}, timeout=10).text
    _revoke(ctx, aid)
    hosted = check(live_server, url=ctx.urls.assertion(aid))
    assert hosted.state == "revoked" and _failed(hosted) == ["gone"]
    assert "Ściąganie" in hosted.checks[-1].reason.english
    assert check(live_server, text=jws).state == "revoked"
    v = check(live_server, text=cred)
    assert v.state == "revoked" and _failed(v) == ["revoked"], v.as_json()


def _chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data) & 0xFFFFFFFF)


def _with_chunks(png: bytes, *extra: bytes) -> bytes:
    ihdr_end = len(PNG_SIGNATURE) + 8 + 13 + 4
    return png[:ihdr_end] + b"".join(extra) + png[ihdr_end:]


def test_png_baking_faults_each_have_a_reason(live_server):
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    baked = requests.get(ctx.urls.assertion_baked(aid), timeout=10).content
    plain = requests.get(ctx.urls.badge_image(_badge_of(ctx, aid)), timeout=10).content
    assert _failed(check(live_server, data=plain)) == ["no-baked-data"]
    empty = _with_chunks(plain, _chunk(b"iTXt", b"openbadges\x00\x00\x00\x00\x00"))
    assert _failed(check(live_server, data=empty)) == ["png-empty-chunk"]
    twice = _with_chunks(baked, _chunk(b"tEXt", b"openbadges\x00" + ctx.urls.assertion(aid).encode()))
    assert _failed(check(live_server, data=twice)) == ["png-duplicate-chunk"]
    assert _failed(check(live_server, data=baked[:200])) == ["png-truncated"]
    v = check(live_server, data=b"\x89PNG\r\n\x1a\n" + b"garbage")
    assert v.state == "invalid" and statuses(v)["unbake"] == "failed"


def _badge_of(ctx, aid):
    with ctx.db.session_scope() as s:
        return s.query(Assertion).filter_by(public_id=aid).one().badge_class.public_id
