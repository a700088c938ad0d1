"""A wallet built from an independent OpenID4VCI client library receives the hub's OB 3.0 credentials.

``oid4vci_wallet.mjs`` runs ``@openid4vc/openid4vci`` and ``@openid4vc/oauth2`` 0.4.6 (npm, pinned in
package-lock.json): it resolves the offer link from the learner's page (credential_offer_uri), reads the
Credential Issuer and Authorization Server metadata, redeems the pre-authorized code, asks the nonce
endpoint and fetches both formats with a ``jwt`` proof made by the library (jose signs). The credentials
it got are bound to its key and verified by the hub's verifier and by openbadgeslib (another process).
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import jwt
import pytest

from hub.credentials import verify as hub_verify
from hub.credentials.ob3keys import multikey_from_public
from tests.conformance.test_openbadgeslib import run_openbadgeslib
from tests.hub.verification.support import EMAIL, award_one
from tests.hub.wallets.test_oid4vci import JWT_VC, LDP, _offer_link, _signed_in

pytestmark = pytest.mark.conformance

HERE = Path(__file__).resolve().parent


def run_wallet(offer: str, configurations: list[str], alg: str = "EdDSA") -> dict:
    payload = {"offer": offer, "configurations": configurations, "alg": alg}
    done = subprocess.run(
        ["node", str(HERE / "oid4vci_wallet.mjs")],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=HERE,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1]) if done.stdout.strip() else {}
    assert done.returncode == 0, (out, done.stderr[-3000:])
    return out


def _holder_did(jwk: dict) -> str:
    if jwk["kty"] == "OKP":
        raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
        return "did:key:" + multikey_from_public(raw)
    public = {k: jwk[k] for k in ("kty", "crv", "x", "y")}
    return (
        "did:jwk:" + base64.urlsafe_b64encode(json.dumps(public, separators=(",", ":")).encode()).rstrip(b"=").decode()
    )


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_client_library_receives_both_formats_and_verifiers_accept_them(live_server, node_modules, alg):
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    learner = _signed_in(live_server)
    link, _page = _offer_link(learner, aid)
    out = run_wallet(link, [LDP], alg)
    assert set(out["metadata"]["credential_configurations_supported"]) == {LDP, JWT_VC}
    holder = _holder_did(out["holderJwk"])
    ldp = out["received"][LDP]
    assert ldp["credentialSubject"]["id"] == holder
    assert hub_verify.verify_data_integrity(ldp, email=EMAIL).valid
    # one credential per offer: the VC-JWT comes with a second offer
    link, _page = _offer_link(learner, aid)
    out = run_wallet(link, [JWT_VC], alg)
    token = out["received"][JWT_VC]
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == _holder_did(out["holderJwk"])
    report = hub_verify.verify_vc_jwt(token, email=EMAIL)
    assert report.valid, report.errors
    results = run_openbadgeslib(
        ctx,
        {
            "library ldp": {"kind": "ob3-ldp", "document": ldp, "verifyStatusList": False},
            "library jwt": {"kind": "ob3-jwt", "token": token},
        },
    )
    assert all(r["valid"] for r in results.values()), results


def test_client_library_sees_a_used_offer_refused(live_server, node_modules):
    aid = award_one(live_server)
    link, _page = _offer_link(_signed_in(live_server), aid)
    run_wallet(link, [LDP])
    done = subprocess.run(
        ["node", str(HERE / "oid4vci_wallet.mjs")],
        input=json.dumps({"offer": link, "configurations": [LDP]}),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=HERE,
    )
    assert done.returncode == 1
    assert "error" in json.loads(done.stdout.strip().splitlines()[-1])
