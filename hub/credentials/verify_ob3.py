"""The hub's own Open Badges 3.0 verifier, over HTTP, as a relying party would check a credential
without the hub's database: what ``badgehub demo`` uses for every OB 3.0 form it writes.

Follows https://www.imsglobal.org/spec/ob/v3p0/#verification-and-validation:

1. the proof: a Data Integrity proof (``eddsa-rdfc-2022``, https://www.w3.org/TR/vc-di-eddsa/) or a
   VC-JWT (OB 3.0 §8.2, compact JWS), with the key of the ``verificationMethod`` / ``kid`` resolved
   from the issuer's DID: ``did:web`` fetched over HTTP (https://w3c-ccg.github.io/did-method-web/;
   ``http://`` only for loopback hosts, as the demo serves), ``did:key`` read from the DID itself;
   the key must be an ``assertionMethod`` of the issuer's DID;
2. ``issuer.id`` is the DID that controls the key;
3. ``validFrom``/``validUntil`` around now;
4. status: the ``BitstringStatusListEntry`` bit in the fetched status list credential
   (https://www.w3.org/TR/vc-bitstring-status-list/) is not set;
5. the recipient, when ``email`` is given: one ``identifier`` of type ``emailAddress`` is
   ``sha256$hex(identity + salt)`` of the normalised address.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import unquote

import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from hub.badges.recipient import hash_identity, normalise_email
from hub.credentials import dataintegrity, ob3keys, status
from hub.credentials.baking import OB3_SVG_NS, unbake_png, unbake_svg
from hub.credentials.ob3 import PNG_KEYWORD
from hub.credentials.verify import Report
from hub.errors import HubError

LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def did_web_url(did: str) -> str:
    """The URL of a ``did:web`` DID document: ``did:web:host%3Aport:a:b`` -> ``https://host:port/a/b/did.json``
    (``/.well-known/did.json`` without a path); ``http`` for loopback hosts.

    Raises:
        ValueError: not a ``did:web``.
    """
    if not did.startswith("did:web:"):
        raise ValueError(f"not a did:web: {did}")
    host, *path = did.removeprefix("did:web:").split(":")
    host = unquote(host)
    scheme = "http" if host.split(":")[0] in LOOPBACK or host.startswith("[::1]") else "https"
    tail = "/".join(unquote(p) for p in path) + "/did.json" if path else ".well-known/did.json"
    return f"{scheme}://{host}/{tail}"


def resolve_did(did: str, http: requests.Session) -> dict:
    """The DID document of ``did`` (``did:web`` over HTTP; ``did:key`` Ed25519 made from the DID).

    Raises:
        ValueError: another DID method, or a document that is not the DID's.
    """
    if did.startswith("did:key:"):
        key = did.removeprefix("did:key:")
        vm = {"id": f"{did}#{key}", "type": "Multikey", "controller": did, "publicKeyMultibase": key}
        return {"id": did, "verificationMethod": [vm], "assertionMethod": [vm["id"]]}
    doc = http.get(did_web_url(did), headers={"Accept": "application/did+json, application/json"}, timeout=10).json()
    if doc.get("id") != did:
        raise ValueError("the DID document is not the issuer's")
    return doc


def _method(doc: dict, vm_id: str) -> dict:
    allowed = {m if isinstance(m, str) else m.get("id") for m in doc.get("assertionMethod", [])}
    for vm in doc.get("verificationMethod", []):
        if vm.get("id") == vm_id and vm_id in allowed:
            return vm
    raise ValueError(f"{vm_id} is not an assertion method of {doc.get('id')}")


def _jose_key(vm: dict):
    if "publicKeyJwk" in vm:
        jwk = vm["publicKeyJwk"]
        return {"RSA": RSAKey, "EC": ECKey, "OKP": OKPKey}[jwk["kty"]].import_key(jwk)
    raw = ob3keys.public_from_multikey(vm["publicKeyMultibase"])
    return OKPKey.import_key(Ed25519PublicKey.from_public_bytes(raw))


def _issuer_id(credential: dict) -> str | None:
    issuer = credential.get("issuer")
    return issuer.get("id") if isinstance(issuer, dict) else issuer


def _check_claims(report: Report, credential: dict, email: str | None, http: requests.Session) -> None:
    now = datetime.now(UTC)

    def when(key: str):
        value = credential.get(key)
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None

    if (start := when("validFrom")) and start > now:
        report.fail("the credential is not valid yet (validFrom)")
    if (end := when("validUntil")) and end < now:
        report.fail("the credential has expired (validUntil)")
    entry = credential.get("credentialStatus")
    entries = entry if isinstance(entry, list) else [entry] if entry else []
    for e in entries:
        if e.get("type") != "BitstringStatusListEntry":
            continue
        listed = http.get(e["statusListCredential"], headers={"Accept": "application/vc+ld+json"}, timeout=10)
        subject = listed.json().get("credentialSubject", {})
        bits = status.decode_bitstring(subject["encodedList"])
        index = int(e["statusListIndex"])
        if bits[index >> 3] & (0x80 >> (index & 7)):
            report.fail(f"revoked (status list bit {index} is set, purpose {e.get('statusPurpose')})")
    if email is not None:
        subject = credential.get("credentialSubject", {})
        want = normalise_email(email)
        ids = [i for i in subject.get("identifier", []) if i.get("identityType") == "emailAddress"]
        if not any(i.get("identityHash") == hash_identity(want, i.get("salt") or "") for i in ids):
            report.fail("the credential is not for this recipient (identityHash mismatch)")


def verify_data_integrity(document: dict, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Verify a credential with an ``eddsa-rdfc-2022`` proof (steps 1-5 of the module docstring)."""
    http = http or requests.Session()
    report = Report(assertion=document)
    issuer = _issuer_id(document)
    try:
        did = resolve_did(issuer or "", http)

        def resolve(vm_id: str) -> bytes:
            if vm_id.split("#")[0] != issuer:
                raise ValueError("the proof's key is not the issuer's")
            return ob3keys.public_from_multikey(_method(did, vm_id)["publicKeyMultibase"])

        dataintegrity.verify_proof(document, resolve)
    except (HubError, ValueError, KeyError, TypeError, requests.RequestException) as exc:
        return report.fail(f"the Data Integrity proof does not verify: {getattr(exc, 'detail', exc)}")
    _check_claims(report, document, email, http)
    return report


def verify_vc_jwt(token: str, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Verify a VC-JWT (OB 3.0 §8.2): the JWS with the ``kid`` key of the ``iss`` DID, ``vc`` claims."""
    http = http or requests.Session()
    report = Report()
    try:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))
        credential = payload.get("vc", payload)
        issuer = _issuer_id(credential)
        kid = header["kid"]
        if kid.split("#")[0] != issuer or payload.get("iss", issuer) != issuer:
            raise ValueError("the signing key is not the issuer's")
        key = _jose_key(_method(resolve_did(issuer, http), kid))
        jws.deserialize_compact(token, key, algorithms=[header["alg"]])
    except (JoseError, ValueError, KeyError, IndexError, TypeError, requests.RequestException) as exc:
        return report.fail(f"the VC-JWT does not verify: {exc}")
    report.assertion = credential
    _check_claims(report, credential, email, http)
    return report


def verify_baked_credential(data: bytes, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Unbake an OB 3.0 PNG (iTXt ``openbadgecredential``) or SVG (``<openbadges:credential>``) and
    verify the credential it carries (JSON with a proof, or a VC-JWT)."""
    if data.startswith(b"\x89PNG"):
        text = unbake_png(data, PNG_KEYWORD)
    else:
        found = unbake_svg(data, tag="credential", ns=OB3_SVG_NS)
        text = (found[0] or found[1]) if found else None
    if not text:
        return Report().fail("no baked Open Badges 3.0 credential found")
    text = text.strip()
    if text.startswith("{"):
        return verify_data_integrity(json.loads(text), email=email, http=http)
    return verify_vc_jwt(text, email=email, http=http)
