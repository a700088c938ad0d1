"""Issuer signing keys and OB 2.0 signed assertions (compact JWS, RS256).

Spec: https://www.imsglobal.org/spec/ob/v2p0/#SignedBadge — the JWS payload is the assertion JSON,
its ``verification.creator`` the URL of the issuer's CryptographicKey. JOSE is done by ``joserfc``
(https://jose.authlib.org/), keys by ``cryptography``.
"""

from __future__ import annotations

import json
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from hub.crypto import SecretBox
from hub.errors import SignatureError

RSA_BITS = 2048


def generate_rsa_key(box: SecretBox, bits: int = RSA_BITS) -> tuple[str, str]:
    """Make an RSA key pair.

    Returns:
        ``(public_pem, encrypted_private_pem)``: SubjectPublicKeyInfo PEM, and the PKCS#8 PEM encrypted
        with ``box`` (never stored in clear).
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return public_pem.decode("ascii"), box.encrypt(private_pem)


@lru_cache(maxsize=64)
def _private_key(encrypted: str, kek: str) -> RSAKey:
    # Decrypting and parsing a PEM costs ~1 ms; cache per (ciphertext, KEK) so awarding thousands of
    # assertions signs with a parsed key. The cache holds keys only in this process's memory.
    return RSAKey.import_key(SecretBox(kek).decrypt(encrypted))


def sign_jws(payload: dict, encrypted_private_key: str, kek: str) -> str:
    """Sign ``payload`` (a JSON object) as a compact JWS with RS256.

    The payload is serialised as compact UTF-8 JSON (``ensure_ascii=False``), so Polish letters stay
    letters. Returns the compact serialisation ``header.payload.signature``.
    """
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return jws.serialize_compact({"alg": "RS256"}, body, _private_key(encrypted_private_key, kek))


def verify_jws(token: str, public_pem: str) -> dict:
    """Verify a compact RS256 JWS against ``public_pem`` and return its JSON payload.

    Raises:
        SignatureError: malformed token, wrong algorithm, or signature mismatch.
    """
    try:
        obj = jws.deserialize_compact(token.strip(), RSAKey.import_key(public_pem), algorithms=["RS256"])
        return json.loads(obj.payload)
    except (JoseError, ValueError) as exc:
        raise SignatureError(f"JWS does not verify: {exc}") from None
