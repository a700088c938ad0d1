"""Verifications per second of the badge verifier (hub/verification), against the hub's own proof check
as the baseline measured in the same run.

    .venv/bin/python bench/verify.py [--n 100]

Prints ms per verification for: the hub's signing-side proof check (``dataintegrity.verify_proof`` with
``fastcanon``, the baseline), the same proof through the verifier's canonicaliser (pyld's general
RDFC-1.0, used for credentials from anywhere), an ``eddsa-jcs-2022`` proof, and the whole verifier
(``hub.verification.verify``: contexts, JSON Schema, proof, did:key, validity, recipient) on a did:key
credential (no network), with the ratio of each to the baseline.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hub.credentials import dataintegrity, fastcanon, jsonld, ob3, ob3keys  # noqa: E402
from hub.verification import verify  # noqa: E402
from hub.verification.fetch import Fetcher  # noqa: E402
from tests.hub.credentials.ob3_support import make_assertion, make_world  # noqa: E402


def per_call(fn, n: int) -> float:
    for _ in range(5):
        fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=100)
    args = ap.parse_args()
    w = make_world(Path(tempfile.mkdtemp()))
    s, ctx = w.session, w.ctx
    a = make_assertion(s, w.badge)
    key = ob3keys.load_signing_key(s, ctx, w.issuer, "Ed25519")
    did = "did:key:" + ob3keys.multikey_from_public(key.public_raw())
    cred = ob3.credential_json(s, ctx, a)
    cred = {**cred, "issuer": {**cred["issuer"], "id": did} if isinstance(cred["issuer"], dict) else did}
    cred.pop("credentialStatus", None)
    vm = f"{did}#{did.removeprefix('did:key:')}"
    signed = dataintegrity.add_proof(cred, key.private, vm, a.issued_on)
    public = key.public_raw()

    import base58
    import rfc8785

    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": "2026-12-01T00:00:00Z",
        "verificationMethod": vm,
        "proofPurpose": "assertionMethod",
        "@context": cred["@context"],
    }
    data = hashlib.sha256(rfc8785.dumps(proof)).digest() + hashlib.sha256(rfc8785.dumps(cred)).digest()
    proof.pop("@context")
    proof["proofValue"] = "z" + base58.b58encode(key.private.sign(data)).decode()
    jcs = {**cred, "proof": [proof]}
    text = json.dumps(signed)

    fetcher = Fetcher(max_bytes=1 << 20, timeout=5)
    results = {
        "baseline: verify_proof, fastcanon": per_call(
            lambda: dataintegrity.verify_proof(signed, lambda _vm: public, canonize=fastcanon.canonize), args.n
        ),
        "verify_proof, pyld general": per_call(
            lambda: dataintegrity.verify_proof(signed, lambda _vm: public, canonize=jsonld.canonize_general), args.n
        ),
        "verify_proof_jcs": per_call(lambda: dataintegrity.verify_proof_jcs(jcs, lambda _vm: public), args.n),
        "hub.verification.verify (rdfc, did:key)": per_call(lambda: verify(ctx, text=text, fetcher=fetcher), args.n),
        "hub.verification.verify (jcs, did:key)": per_call(
            lambda: verify(ctx, text=json.dumps(jcs), fetcher=fetcher), args.n
        ),
    }
    assert verify(ctx, text=text, fetcher=fetcher).state == "valid"
    assert verify(ctx, text=json.dumps(jcs), fetcher=fetcher).state == "valid"
    base = results["baseline: verify_proof, fastcanon"]
    print(f"{'path':45} {'ms':>8} {'per s':>8} {'x baseline':>11}")
    for name, sec in results.items():
        print(f"{name:45} {sec * 1000:8.2f} {1 / sec:8.0f} {sec / base:11.1f}")


if __name__ == "__main__":
    main()
