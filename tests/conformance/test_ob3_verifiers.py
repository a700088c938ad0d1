"""Every kind of OB 3.0 credential the hub makes, checked by independent Node verifiers.

Verifiers (tests/conformance/package.json, installed by ``npm ci`` from the lock file):
``@digitalcredentials/verifier-core``, ``@digitalcredentials/vc`` + ``eddsa-rdfc-2022-cryptosuite`` +
``security-document-loader``, and ``@digitalbazaar/vc`` as a separate check. The hub runs on
localhost and serves the DID documents and status lists; the Node side refuses every other URL.
"""

from __future__ import annotations

import copy
import json
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

from hub.credentials import jsonld, ob3, ob3keys
from hub.credentials.baking import OB3_SVG_NS, unbake_png, unbake_svg
from hub.errors import HubError
from hub.web.ob3 import bp
from tests.hub.credentials.ob3_support import SHARED_REF, make_assertion, make_badge, make_ctx, make_issuer

pytestmark = pytest.mark.conformance

HERE = Path(__file__).resolve().parent
HUB_ORIGIN = "https://badges.example.test"


def make_app(ctx) -> Flask:
    app = Flask(__name__)
    app.extensions["hub"] = ctx
    app.register_blueprint(bp)

    @app.errorhandler(HubError)
    def _problem(exc: HubError):
        return {"title": exc.title, "detail": exc.detail}, exc.status

    return app


@pytest.fixture()
def hub(tmp_path):
    """A hub on 127.0.0.1 whose public base URL is ``HUB_ORIGIN`` (the verifiers map one to the other)."""
    ctx = make_ctx(tmp_path, HUB_ORIGIN)
    server = make_server("127.0.0.1", 0, make_app(ctx), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield ctx, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    ctx.db.dispose()


def run_node(script: str, payload: dict) -> dict:
    """Run ``script`` of tests/conformance with ``payload`` as JSON on stdin; its report is the last line of
    stdout (the verifiers log to stdout too, e.g. verifier-core when no schema is at hand)."""
    done = subprocess.run(
        ["node", str(HERE / script)], input=json.dumps(payload), capture_output=True, text=True, timeout=300, cwd=HERE
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_verifiers(local_origin: str, items: dict) -> dict:
    payload = {
        "hubOrigin": HUB_ORIGIN,
        "localOrigin": local_origin,
        "schemaDir": str(SHARED_REF) if SHARED_REF.exists() else None,
        "items": [{"name": name, **item} for name, item in items.items()],
        "contexts": jsonld.pinned_contexts(),
    }
    out = run_node("verify_ob3.mjs", payload)
    assert out["refused"] == [], f"verifiers tried to reach the network: {out['refused']}"
    return out["results"]


def tamper_jwt(token: str) -> str:
    import base64

    h, p, s = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    claims["name"] = "Forged"
    p2 = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{h}.{p2}.{s}"


def test_independent_verifiers_accept_and_reject(node_modules, hub):
    ctx, local = hub
    s = ctx.db.Session()
    issuer = make_issuer(s, ctx)
    png_badge = make_badge(s, issuer)
    svg_badge = make_badge(s, issuer, name="SVG badge", svg=True, details=False, alignments=[], tags=())
    key_issuer = make_issuer(s, ctx, name="did:key school", did_method="key")
    key_badge = make_badge(s, key_issuer, name="did:key badge")
    now = datetime.now(UTC).replace(microsecond=0)

    good = make_assertion(s, png_badge, email="good@example.org", expires=now + timedelta(days=365))
    revoked = make_assertion(s, png_badge, email="revoked@example.org")
    expired = make_assertion(
        s,
        png_badge,
        email="old@example.org",
        issued_on=now - timedelta(days=400),
        expires=now - timedelta(days=35),
    )
    svg_one = make_assertion(s, svg_badge, email="svg@example.org", evidence=[])
    keyed = make_assertion(s, key_badge, email="key@example.org")
    # signed with the first Ed25519 key, which is then rotated out: must still verify
    before_rotation = ob3.issue(s, ctx, good, "data-integrity")
    ob3keys.rotate_key(s, ctx, issuer, "Ed25519")
    s.commit()

    items = {}
    ldp = {a: ob3.issue(s, ctx, a, "data-integrity") for a in (good, revoked, expired, svg_one, keyed)}
    items["ldp"] = {"ldp": ldp[good].document}
    items["ldp_before_rotation"] = {"ldp": before_rotation.document}
    items["ldp_revoked"] = {"ldp": ldp[revoked].document}
    items["ldp_expired"] = {"ldp": ldp[expired].document}
    items["ldp_did_key"] = {"ldp": ldp[keyed].document}
    items["ldp_baked_png"] = {
        "ldp": json.loads(unbake_png(ob3.bake(png_badge.image, "image/png", ldp[good]), "openbadgecredential"))
    }
    _, svg_json = unbake_svg(ob3.bake(svg_badge.image, "image/svg+xml", ldp[svg_one]), tag="credential", ns=OB3_SVG_NS)
    items["ldp_baked_svg"] = {"ldp": json.loads(svg_json)}
    forged = copy.deepcopy(ldp[good].document)
    forged["credentialSubject"]["achievement"]["name"] = "Forged"
    items["ldp_tampered"] = {"ldp": forged}

    for alg in ("RS256", "ES256", "EdDSA"):
        items[f"jwt_{alg}"] = {"jwt": ob3.issue(s, ctx, good, "vc-jwt", alg).text}
    jwt_revoked = ob3.issue(s, ctx, revoked, "vc-jwt").text
    items["jwt_revoked"] = {"jwt": jwt_revoked}
    items["jwt_expired"] = {"jwt": ob3.issue(s, ctx, expired, "vc-jwt").text}
    items["jwt_did_key"] = {"jwt": ob3.issue(s, ctx, keyed, "vc-jwt", "EdDSA").text}
    items["jwt_tampered"] = {"jwt": tamper_jwt(items["jwt_RS256"]["jwt"])}
    jwt_svg = ob3.issue(s, ctx, svg_one, "vc-jwt")
    verify, _ = unbake_svg(ob3.bake(svg_badge.image, "image/svg+xml", jwt_svg), tag="credential", ns=OB3_SVG_NS)
    items["jwt_baked_svg"] = {"jwt": verify}
    items["jwt_baked_png"] = {"jwt": unbake_png(ob3.bake(png_badge.image, "image/png", jwt_svg), "openbadgecredential")}

    revoked.revoked = True
    revoked.revocation_reason = "issued in error"
    s.commit()

    results = run_verifiers(local, items)
    problems = {k: v.get("exception") for k, v in results.items() if v.get("exception")}
    assert not problems, problems

    def ldp_ok(name, *, expired=False, revoked=False):
        r = results[name]
        core, dc, db = r["verifierCore"], r["dcVc"], r["dbVc"]
        assert core["signature"] is True, (name, core)
        assert core["expired"] is expired, (name, core)
        assert core["revoked"] is revoked, (name, core)
        if SHARED_REF.exists():
            assert core["schemaValid"] is True, (name, core)
        for lib in (dc, db):
            assert lib["signature"] is True, (name, lib)
            assert lib["revoked"] is revoked, (name, lib)
            assert lib["expired"] is expired, (name, lib)

    for name in ("ldp", "ldp_before_rotation", "ldp_did_key", "ldp_baked_png", "ldp_baked_svg"):
        ldp_ok(name)
    ldp_ok("ldp_revoked", revoked=True)
    ldp_ok("ldp_expired", expired=True)

    tampered = results["ldp_tampered"]
    assert tampered["verifierCore"]["signature"] is False, tampered
    assert tampered["dcVc"]["signature"] is False and tampered["dbVc"]["signature"] is False, tampered

    for name in ("jwt_RS256", "jwt_ES256", "jwt_EdDSA", "jwt_did_key", "jwt_baked_svg", "jwt_baked_png"):
        r = results[name]["jwt"]
        assert r["signature"] is True and r["claims"] is True and r["expired"] is False, (name, r)
        assert r["status"] == "ok", (name, r)
    assert results["jwt_revoked"]["jwt"]["signature"] is True
    assert results["jwt_revoked"]["jwt"]["status"] == "revoked", results["jwt_revoked"]
    assert results["jwt_expired"]["jwt"]["expired"] is True and results["jwt_expired"]["jwt"]["claims"] is True
    assert results["jwt_tampered"]["jwt"]["signature"] is False
