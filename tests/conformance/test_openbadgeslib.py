"""Every badge form the hub makes, checked by openbadgeslib (PyPI ``openbadgeslib[ldp]``, pinned in the
``test`` extra): OB 2.0 hosted, signed and baked (PNG, SVG); OB 3.0 Data Integrity and VC-JWT, plain and
baked (PNG, SVG), did:web and did:key; revoked and not. The hub runs on 127.0.0.1 (the full app, real
awards from a signed webhook); openbadgeslib runs in a process of its own
(``_openbadgeslib_runner.py``), all forms in one call.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass
from hub.credentials import jsonld
from hub.credentials.models import IssuerCredentialSettings
from tests.conftest import BADGE_SVG, Factory, completion, post_event

pytestmark = pytest.mark.conformance

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def openbadgeslib_available():
    if importlib.util.find_spec("openbadgeslib") is None:
        pytest.skip("openbadgeslib is not installed (pip install -e '.[test]')")


def run_openbadgeslib(ctx, items: dict) -> dict:
    extra = {ctx.urls.context(name): doc for name, doc in jsonld.hosted_contexts().items()}
    payload = {"extraContexts": extra, "items": [{"name": k, **v} for k, v in items.items()]}
    done = subprocess.run(
        [sys.executable, "-I", str(HERE / "_openbadgeslib_runner.py")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)["results"]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def forms(ctx, aid: str, ext: str, email: str) -> dict:
    """Every form of one award, as openbadgeslib inputs."""
    u = ctx.urls
    get = requests.get
    out = {
        "ob2 hosted": {
            "kind": "ob2-hosted",
            "document": get(u.assertion(aid), headers={"Accept": "application/ld+json"}).text,
        },
        "ob2 signed": {"kind": "ob2-signed", "token": get(u.assertion_signed(aid)).text},
        f"ob2 baked {ext}": {"kind": "ob2-baked", "data": _b64(get(u.assertion_baked(aid, ext)).content)},
        f"ob2 baked signed {ext}": {
            "kind": "ob2-baked",
            "data": _b64(get(u.assertion_baked(aid, ext) + "?form=signed").content),
        },
        "ob3 ldp": {
            "kind": "ob3-ldp",
            "document": get(u.credential(aid), headers={"Accept": "application/json"}).json(),
        },
        "ob3 jwt": {"kind": "ob3-jwt", "token": get(u.credential_jwt(aid)).text},
        f"ob3 baked ldp {ext}": {
            "kind": "ob3-baked",
            "data": _b64(get(u.credential_baked(aid, ext, "ldp")).content),
            "verifyStatusList": False,
        },
        f"ob3 baked jwt {ext}": {"kind": "ob3-baked", "data": _b64(get(u.credential_baked(aid, ext, "jwt")).content)},
    }
    for item in out.values():
        if item["kind"].startswith("ob2"):
            item["recipient"] = email
    return out


def test_every_form_passes_openbadgeslib(live_server, openbadgeslib_available):
    ctx = live_server.extensions["hub"]
    client = live_server.test_client()
    Factory(ctx).setup(allow_multiple=True, key=None)
    Factory(ctx).setup(slug="svg", image=BADGE_SVG.encode(), allow_multiple=True, key=None, badge_name="SVG badge")
    with ctx.db.session_scope() as s:
        svg_issuer = s.query(BadgeClass).filter_by(name="SVG badge").one().issuer
        s.add(IssuerCredentialSettings(issuer_id=svg_issuer.id, did_method="key", jwt_algorithm="EdDSA"))
    awards = {}
    for slug, ext in (("lms", "png"), ("svg", "svg")):
        for user in (1, 2):
            email = f"{slug}{user}@example.org"
            assert post_event(client, completion(user_id=user, email=email), slug=slug).status_code == 202
            with ctx.db.session_scope() as s:
                a = s.query(Assertion).order_by(Assertion.id.desc()).first()
                awards[(ext, user)] = (a.public_id, email)
    items = {}
    for (ext, user), (aid, email) in awards.items():
        for name, item in forms(ctx, aid, ext, email).items():
            items[f"{name} {ext}{user}"] = item
    # revoke the second award of each issuer after the signed forms were taken
    with ctx.db.session_scope() as s:
        for ext in ("png", "svg"):
            aid = awards[(ext, 2)][0]
            badges.revoke(s, ctx, s.query(Assertion).filter_by(public_id=aid).one(), "issued in error")

    results = run_openbadgeslib(ctx, items)
    wrong = {}
    for name, r in results.items():
        revoked = name.endswith("2")
        reason = (r["reason"] or "").lower()
        if revoked:
            # OB 3.0: the status list bit; OB 2.0: the revocation list, or the hosted assertion's 410 Gone
            seen = (
                "'revocation' is set" in reason if name.startswith("ob3") else ("revoked" in reason or "410" in reason)
            )
            if r["valid"] or not seen:
                wrong[name] = r
        elif not r["valid"] or r.get("trusted") is (name.endswith(("svg1",))):
            # trusted: did:web (DNS + TLS); the SVG issuer is a did:key (self-asserted, valid but untrusted)
            wrong[name] = r
    assert not wrong, json.dumps(wrong, indent=1, ensure_ascii=False)[:6000]
