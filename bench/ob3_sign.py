"""Credentials signed and serialised per second: hub (both proofs) vs the Node stack, same run.

    .venv/bin/python bench/ob3_sign.py [--n 300]

Needs tests/conformance/node_modules (``npm ci`` there) for the Node baseline. Prints, per path,
ms per credential and credentials/s, the hub/Node ratio, a breakdown of where the hub's time goes
(canonicalisation, hashing, Ed25519, JSON), peak RSS, and checks that Node's output and the hub's are
the same bytes (same key, same ``created``): the Node verifiers accept what the hub signs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hub.credentials import dataintegrity, fastcanon, jsonld, ob3, ob3keys  # noqa: E402
from tests.hub.credentials.ob3_support import make_assertion, make_world  # noqa: E402


def per_call(fn, n: int) -> float:
    """Mean seconds per call over ``n`` calls (after 20 warm-up calls)."""
    for _ in range(20):
        fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=300, help="credentials per measurement")
    args = ap.parse_args()

    w = make_world(Path(tempfile.mkdtemp()))
    s, ctx = w.session, w.ctx
    a = make_assertion(s, w.badge)
    cred = ob3.credential_json(s, ctx, a)
    key = ob3keys.load_signing_key(s, ctx, w.issuer, "Ed25519")
    created = a.issued_on

    def hub_di():
        return json.dumps(dataintegrity.add_proof(cred, key.private, key.vm_id, created), ensure_ascii=False)

    def hub_di_general():
        return json.dumps(
            dataintegrity.add_proof(cred, key.private, key.vm_id, created, canonize=jsonld.canonize_general),
            ensure_ascii=False,
        )

    rsa_key = ob3keys.load_signing_key(s, ctx, w.issuer, "RS256")
    rsa = lambda: ob3.vc_jwt(cred, rsa_key, "RS256")  # noqa: E731
    eddsa = lambda: ob3.vc_jwt(cred, key, "EdDSA")  # noqa: E731
    results = {
        "hub Data Integrity (fast RDFC)": per_call(hub_di, args.n),
        "hub DI, incl. building from rows": per_call(lambda: ob3.issue(s, ctx, a, "data-integrity").text, args.n),
        "hub Data Integrity (pyld general)": per_call(hub_di_general, max(20, args.n // 10)),
        "hub VC-JWT RS256": per_call(rsa, args.n),
        "hub VC-JWT EdDSA": per_call(eddsa, args.n),
    }

    # where the fast Data Integrity time goes
    unsecured = dict(cred)
    config = {
        "@context": cred["@context"],
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-03-01T12:00:00Z",
        "verificationMethod": key.vm_id,
        "proofPurpose": "assertionMethod",
    }
    nq = fastcanon.canonize(unsecured)
    parts = {
        "canonicalise credential": per_call(lambda: fastcanon.canonize(unsecured), args.n),
        "canonicalise proof config": per_call(lambda: fastcanon.canonize(config), args.n),
        "sha256 x2": per_call(
            lambda: (hashlib.sha256(nq.encode()).digest(), hashlib.sha256(b"x" * 400).digest()), args.n
        ),
        "Ed25519 sign": per_call(lambda: key.private.sign(b"x" * 64), args.n),
        "json.dumps": per_call(lambda: json.dumps(cred, ensure_ascii=False), args.n),
    }

    node = None
    conformance = REPO / "tests" / "conformance"
    if (conformance / "node_modules").exists() and shutil.which("node"):
        script = conformance / "_bench_node_sign.mjs"  # beside node_modules so imports resolve
        shutil.copy(REPO / "bench" / "ob3_node_sign.mjs", script)
        try:
            seed = key.private.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
            done = subprocess.run(
                ["node", str(script)],
                input=json.dumps(
                    {
                        "credential": cred,
                        "seed": seed.hex(),
                        "controller": key.vm_id.split("#")[0],
                        "verificationMethod": key.vm_id,
                        "created": "2026-03-01T12:00:00Z",
                        "n": args.n,
                    }
                ),
                capture_output=True,
                text=True,
                timeout=600,
                cwd=conformance,
            )
        finally:
            script.unlink(missing_ok=True)
        if done.returncode == 0:
            node = json.loads(done.stdout)
        else:
            print("Node baseline failed:", done.stderr[-1500:], file=sys.stderr)

    print(f"OB 3.0 credential signing + JSON serialisation, single process, n={args.n}")
    for name, sec in results.items():
        print(f"  {name:38s} {sec * 1e3:8.3f} ms/credential  {1 / sec:9.0f} credentials/s")
    if node:
        ms = node["perCredentialMs"]
        print(
            f"  {'Node @digitalcredentials/vc eddsa-rdfc':38s} {ms:8.3f} ms/credential  {1e3 / ms:9.0f} credentials/s"
        )
        fast = results["hub Data Integrity (fast RDFC)"] * 1e3
        print(f"  ratio Node / hub (Data Integrity): {ms / fast:.1f}x   (target >= 5x)")
        node_proof = node["sample"]["proof"]
        node_proof = node_proof[0] if isinstance(node_proof, list) else node_proof
        same = node_proof["proofValue"] == json.loads(hub_di())["proof"][0]["proofValue"]
        print(f"  same signature bytes as Node (same key and created): {same}")
    else:
        print("  Node baseline skipped (run `npm ci` in tests/conformance)")
    print("Where the hub's Data Integrity time goes:")
    for name, sec in parts.items():
        print(f"  {name:28s} {sec * 1e6:8.1f} us")
    print(f"fast-path stats: {fastcanon._default.stats}")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB (Python process)")


if __name__ == "__main__":
    main()
