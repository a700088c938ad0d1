"""The hub's OB 3.0 HTTP checks (``hub.credentials.verify``, an adapter over ``hub.verification``, used
by ``badgehub demo``) accept the hub's credentials and refuse what a relying party must refuse: a changed
document or token, another recipient, a key that is not the issuer's, a revoked credential. Over a real
HTTP server (the demo's)."""

from __future__ import annotations

import base64
import copy
import json

import pytest
import requests
from sqlalchemy import select

from hub.badges import services as badges
from hub.badges.models import Assertion
from hub.credentials import verify as verify_ob3
from hub.demo import LEARNER_EMAIL, run_demo
from hub.settings import load_settings
from hub.verification import keys


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo's hub, served on a free port, with its two awards (PNG micro-credential, SVG badge)."""
    root = tmp_path_factory.mktemp("demo")
    settings = load_settings(
        {"HUB_INSTANCE_PATH": str(root / "instance"), "HUB_DATABASE_URL": f"sqlite:///{root / 'demo.db'}"}
    )
    result = run_demo(settings.with_(log_level="WARNING"), root / "out")
    assert result.ok, "\n".join(result.lines)
    yield result
    result.stop()


def _ids(demo) -> list[str]:
    ctx = demo.app.extensions["hub"]
    with ctx.db.session_scope() as s:
        return list(s.scalars(select(Assertion.public_id).order_by(Assertion.id)))


def _get(demo, path: str, accept="application/vc+ld+json"):
    return requests.get(f"{demo.base_url}{path}", headers={"Accept": accept}, timeout=30)


def test_did_web_url():
    url = keys.did_web_url("did:web:127.0.0.1%3A5000:issuers:abc", allow_http_loopback=True)
    assert url == "http://127.0.0.1:5000/issuers/abc/did.json"
    assert keys.did_web_url("did:web:badges.example.org") == "https://badges.example.org/.well-known/did.json"
    with pytest.raises(keys.KeyProblem):
        keys.did_web_url("did:key:z6Mk")


def test_changed_document_other_recipient_and_foreign_key_are_refused(demo):
    aid = _ids(demo)[0]
    doc = _get(demo, f"/credentials/{aid}").json()
    assert verify_ob3.verify_data_integrity(doc, email=LEARNER_EMAIL).valid
    changed = copy.deepcopy(doc)
    changed["credentialSubject"]["achievement"]["name"] += " (changed)"
    report = verify_ob3.verify_data_integrity(changed, email=LEARNER_EMAIL)
    assert not report.valid and "does not verify" in " ".join(report.errors)
    report = verify_ob3.verify_data_integrity(doc, email="someone.else@example.org")
    assert not report.valid and "issued to someone else" in report.errors[0]
    foreign = copy.deepcopy(doc)
    proofs = foreign["proof"] if isinstance(foreign["proof"], list) else [foreign["proof"]]
    proofs[0]["verificationMethod"] = "did:web:evil.example#key"
    assert not verify_ob3.verify_data_integrity(foreign).valid


def test_vc_jwt_changed_payload_is_refused(demo):
    aid = _ids(demo)[0]
    token = _get(demo, f"/credentials/{aid}/jwt", accept="text/plain").text
    assert verify_ob3.verify_vc_jwt(token, email=LEARNER_EMAIL).valid
    head, payload, sig = token.split(".")

    claims = json.loads(base64.urlsafe_b64decode(payload + "==="))
    claims.get("vc", claims)["name"] = "forged"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    report = verify_ob3.verify_vc_jwt(f"{head}.{forged}.{sig}")
    assert not report.valid and "JWT signature does not verify" in report.errors[0]


def test_baked_images_and_revocation(demo):
    png_id, svg_id = _ids(demo)
    for aid, ext in ((png_id, "png"), (svg_id, "svg")):
        for fmt in ("ldp", "jwt"):
            baked = _get(demo, f"/credentials/{aid}/baked.{ext}?format={fmt}", accept="*/*").content
            assert verify_ob3.verify_baked_credential(baked, email=LEARNER_EMAIL).valid, (ext, fmt)
    assert not verify_ob3.verify_baked_credential(b"\x89PNG\r\n\x1a\n").valid
    ctx = demo.app.extensions["hub"]
    with ctx.db.session_scope() as s:
        badges.revoke(s, ctx, s.scalar(select(Assertion).where(Assertion.public_id == svg_id)), "issued by mistake")
    doc = _get(demo, f"/credentials/{svg_id}").json()
    report = verify_ob3.verify_data_integrity(doc, email=LEARNER_EMAIL)
    assert not report.valid and "revoked" in report.errors[0]
