"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite.

Spec: https://www.w3.org/TR/vc-di-eddsa/#eddsa-rdfc-2022 (§3.2.1 Add Proof, §3.2.2 Verify Proof) on
https://www.w3.org/TR/vc-data-integrity/. The signature covers
``sha256(canonical proof configuration) || sha256(canonical document without proof)``, both RDFC-1.0
canonical N-Quads (:mod:`hub.credentials.fastcanon`, equal to pyld's general algorithm). The proof is
emitted as ``"proof": [ {...} ]``: the 1EdTech OB 3.0 JSON Schema wants an array.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from hub.credentials import fastcanon
from hub.errors import SignatureError
from hub.timefmt import isoformat_z

CRYPTOSUITE = "eddsa-rdfc-2022"


def _proof_config(context, created: str, verification_method: str, purpose: str) -> dict:
    return {
        "@context": context,
        "type": "DataIntegrityProof",
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": purpose,
    }


def _hash_data(document: dict, config: dict, canonize: Callable[[dict], str]) -> bytes:
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return (
        hashlib.sha256(canonize(config).encode("utf-8")).digest()
        + hashlib.sha256(canonize(unsecured).encode("utf-8")).digest()
    )


def add_proof(
    document: dict,
    private_key: ed25519.Ed25519PrivateKey,
    verification_method: str,
    created: datetime,
    *,
    purpose: str = "assertionMethod",
    canonize: Callable[[dict], str] = fastcanon.canonize,
) -> dict:
    """Return a copy of ``document`` with an eddsa-rdfc-2022 ``DataIntegrityProof`` in ``proof: [..]``.

    Args:
        verification_method: DID URL of the Multikey (it must resolve to the public key).
        created: aware datetime, written as ``YYYY-MM-DDThh:mm:ssZ``.
        canonize: canonicaliser (fast path by default; pass ``jsonld.canonize_general`` to compare).

    Raises:
        fastcanon.UnsafeText, jsonld.ContextNotAllowed, jsonld.CanonicalisationError.
    """
    config = _proof_config(document["@context"], isoformat_z(created), verification_method, purpose)
    signature = private_key.sign(_hash_data(document, config, canonize))
    proof = {k: v for k, v in config.items() if k != "@context"}
    proof["proofValue"] = "z" + base58.b58encode(signature).decode("ascii")
    return {**document, "proof": [proof]}


def verify_proof(
    document: dict,
    resolve_key: Callable[[str], bytes],
    *,
    canonize: Callable[[dict], str] = fastcanon.canonize,
) -> dict:
    """Check the (single) eddsa-rdfc-2022 proof of ``document``; return the proof object.

    ``resolve_key(verification_method) -> 32-byte Ed25519 public key`` (raise if unknown).

    Raises:
        SignatureError: no proof, another cryptosuite, or a signature that does not verify.
    """
    proofs = document.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs] if proofs else []
    if len(proofs) != 1 or proofs[0].get("cryptosuite") != CRYPTOSUITE:
        raise SignatureError("expected exactly one eddsa-rdfc-2022 proof")
    proof = proofs[0]
    config = _proof_config(
        document["@context"], proof.get("created"), proof.get("verificationMethod"), proof.get("proofPurpose")
    )
    value = proof.get("proofValue", "")
    try:
        signature = base58.b58decode(value[1:]) if value.startswith("z") else b""
        public = ed25519.Ed25519PublicKey.from_public_bytes(resolve_key(proof["verificationMethod"]))
        public.verify(signature, _hash_data(document, config, canonize))
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("the Data Integrity proof does not verify") from exc
    return proof


JCS_CRYPTOSUITE = "eddsa-jcs-2022"


def verify_proof_jcs(document: dict, resolve_key: Callable[[str], bytes]) -> dict:
    """Check the (single) ``eddsa-jcs-2022`` proof of ``document``; return the proof object.

    Spec: https://www.w3.org/TR/vc-di-eddsa/#eddsa-jcs-2022 (§3.3.2 Verify Proof, §3.3.4 Transformation,
    §3.3.5 Hashing): the proof configuration is the proof without ``proofValue`` (with the document's
    ``@context`` when it has one), both it and the unsecured document are canonicalised with JCS
    (RFC 8785, the ``rfc8785`` package), and the signature covers
    ``sha256(JCS(proof configuration)) || sha256(JCS(document without proof))``.

    Raises:
        SignatureError: no proof, another cryptosuite, a type other than ``DataIntegrityProof``, or a
            signature that does not verify.
    """
    import rfc8785

    proofs = document.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs] if proofs else []
    if len(proofs) != 1 or not isinstance(proofs[0], dict) or proofs[0].get("cryptosuite") != JCS_CRYPTOSUITE:
        raise SignatureError("expected exactly one eddsa-jcs-2022 proof")
    proof = proofs[0]
    if proof.get("type") != "DataIntegrityProof":
        raise SignatureError("an eddsa-jcs-2022 proof must be a DataIntegrityProof")
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    if "@context" in document:
        config["@context"] = document["@context"]
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    value = proof.get("proofValue", "")
    try:
        data = hashlib.sha256(rfc8785.dumps(config)).digest() + hashlib.sha256(rfc8785.dumps(unsecured)).digest()
        signature = base58.b58decode(value[1:]) if isinstance(value, str) and value.startswith("z") else b""
        public = ed25519.Ed25519PublicKey.from_public_bytes(resolve_key(proof["verificationMethod"]))
        public.verify(signature, data)
    except (InvalidSignature, ValueError, KeyError, TypeError, rfc8785.CanonicalizationError) as exc:
        raise SignatureError("the Data Integrity proof does not verify") from exc
    return proof
