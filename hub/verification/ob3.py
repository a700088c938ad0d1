"""Open Badges 3.0 verification, check by check.

Follows https://www.imsglobal.org/spec/ob/v3p0/#verification-and-validation (§9):

- the ``@context`` URLs must be ones the hub ships (:func:`hub.credentials.jsonld.pinned_contexts`, or a
  hub-hosted context): nothing is fetched for JSON-LD, and a credential naming another context is refused;
- the 1EdTech JSON Schema for ``AchievementCredential`` (shipped in ``schemas/``), checked with
  ``jsonschema`` on a copy where a single ``proof``/``type`` is wrapped in a list;
- the proof: Data Integrity ``eddsa-rdfc-2022`` (:func:`hub.credentials.dataintegrity.verify_proof`, RDFC-1.0
  by pyld through the pinned loader) or ``eddsa-jcs-2022``
  (:func:`hub.credentials.dataintegrity.verify_proof_jcs`), or a VC-JWT (RS256, ES256, EdDSA; ``joserfc``)
  whose ``kid`` (or ``jwk``) resolves through :mod:`hub.verification.keys`; the key must be the issuer's;
- ``credentialStatus``: ``BitstringStatusListEntry`` (https://www.w3.org/TR/vc-bitstring-status-list/; the
  list credential must be the issuer's and its own proof must verify) or ``1EdTechRevocationList``
  (https://www.imsglobal.org/spec/vcrl/v1p0/);
- ``validFrom``/``validUntil`` (or VCDM 1.1 ``issuanceDate``/``expirationDate``, JWT ``nbf``/``exp``);
- the recipient: ``credentialSubject.identifier`` IdentityObjects (``emailAddress``).
"""

from __future__ import annotations

import base64
import copy
import json
import logging
from functools import cache
from importlib import resources

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from hub.credentials import dataintegrity, jsonld
from hub.credentials.status import decode_bitstring
from hub.errors import HubError
from hub.i18n import lazy as _l
from hub.verification import keys
from hub.verification.common import check_image, check_recipient, check_window
from hub.verification.fetch import Fetcher, FetchError
from hub.verification.report import Verdict

log = logging.getLogger(__name__)

JWT_ALGORITHMS = ("RS256", "ES256", "EdDSA")
SUITES = (dataintegrity.CRYPTOSUITE, dataintegrity.JCS_CRYPTOSUITE)


@cache
def achievement_credential_schema() -> dict:
    """The 1EdTech OB 3.0 AchievementCredential JSON Schema the hub ships (Draft 2019-09)."""
    folder = resources.files("hub.verification") / "schemas"
    return json.loads((folder / "ob_v3p0_achievementcredential_schema.json").read_text("utf-8"))


def issuer_id(doc: dict) -> str | None:
    issuer = doc.get("issuer")
    value = issuer.get("id") if isinstance(issuer, dict) else issuer
    return value if isinstance(value, str) else None


def check_contexts(v: Verdict, doc: dict) -> bool:
    """``contexts`` check; True when every context is pinned."""
    contexts = doc.get("@context")
    contexts = contexts if isinstance(contexts, list) else [contexts]
    unknown = [
        c
        for c in contexts
        if not isinstance(c, str) or (c not in jsonld.pinned_contexts() and jsonld.hosted_context_for(c) is None)
    ]
    if not contexts or contexts[0] != jsonld.VC_V2_CONTEXT and contexts[0] != "https://www.w3.org/2018/credentials/v1":
        v.failed("contexts", _l("the first @context is not the W3C credentials context"), "bad-context")
        return False
    if unknown:
        shown = unknown[0] if isinstance(unknown[0], str) else "{…}"
        log.info("verifier refused unpinned context %r", shown)
        v.failed(
            "contexts",
            _l("the context %(url)s is not one the hub knows; nothing was fetched", url=shown[:120]),
            "unpinned-context",
        )
        return False
    v.passed("contexts", _l("every context is pinned (nothing fetched)"))
    return True


def check_schema(v: Verdict, doc: dict) -> None:
    """``schema`` check against the 1EdTech AchievementCredential JSON Schema."""
    import jsonschema

    shaped = copy.deepcopy(doc)
    for key in ("proof", "type"):
        if key in shaped and not isinstance(shaped[key], list):
            shaped[key] = [shaped[key]]
    if isinstance(shaped.get("credentialStatus"), list) and len(shaped["credentialStatus"]) == 1:
        shaped["credentialStatus"] = shaped["credentialStatus"][0]
    validator = jsonschema.Draft201909Validator(achievement_credential_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(shaped))
    if error is None:
        v.passed("schema", _l("conforms to the 1EdTech AchievementCredential schema"))
    else:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        v.failed(
            "schema",
            _l(
                "does not conform to the 1EdTech schema at %(where)s: %(error)s", where=where, error=error.message[:200]
            ),
            "schema",
        )


def _resolve_ed25519(fetcher: Fetcher, issuer: str | None, found: dict):
    def resolve(vm_id: str) -> bytes:
        key = keys.resolve(vm_id, fetcher)
        found["key"] = (vm_id, key)
        if key.ed25519 is None:
            raise ValueError("not an Ed25519 key")
        return key.ed25519

    return resolve


def verify_ld_proof(v: Verdict, doc: dict, fetcher: Fetcher, *, check: str = "proof") -> bool:
    """The Data Integrity proof of ``doc`` (the key must be the issuer's); adds ``proof`` and ``key``."""
    proofs = doc.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs] if proofs else []
    if not proofs:
        v.failed(check, _l("the credential has no proof"), "no-proof")
        return False
    suite = proofs[0].get("cryptosuite") if isinstance(proofs[0], dict) else None
    if len(proofs) != 1 or suite not in SUITES:
        v.failed(
            check,
            _l(
                "unsupported proof (%(suite)s); the hub checks eddsa-rdfc-2022 and eddsa-jcs-2022",
                suite=suite or (proofs[0].get("type") if isinstance(proofs[0], dict) else "?"),
            ),
            "unsupported-proof",
        )
        return False
    issuer = issuer_id(doc)
    found: dict = {}
    try:
        resolve = _resolve_ed25519(fetcher, issuer, found)
        if suite == dataintegrity.CRYPTOSUITE:
            dataintegrity.verify_proof(doc, resolve, canonize=jsonld.canonize_general)
        else:
            dataintegrity.verify_proof_jcs(doc, resolve)
    except FetchError as exc:
        v.failed("key", exc.reason, exc.code)
        return False
    except keys.KeyProblem as exc:
        v.failed("key", exc.reason, exc.code)
        return False
    except jsonld.ContextNotAllowed:
        v.failed("contexts", _l("a context is not one the hub knows; nothing was fetched"), "unpinned-context")
        return False
    except HubError as exc:
        cause = exc.__cause__
        if isinstance(cause, FetchError | keys.KeyProblem):
            v.failed("key", cause.reason, cause.code)
        else:
            v.failed(
                check, _l("the proof does not verify: the credential was changed or signed by another key"), "bad-proof"
            )
        return False
    vm_id, key = found["key"]
    if not issuer or not keys.controlled_by(key, vm_id, issuer):
        v.failed("key", _l("the signing key %(key)s is not the issuer's", key=vm_id), "key-owner")
        return False
    v.passed(check, _l("%(suite)s proof verifies", suite=suite))
    if check == "proof":
        v.passed("key", _l("signed with %(key)s, a key of the issuer", key=vm_id))
    return True


#: Media types of a VC-JWT (VC-JOSE-COSE §3.1.1; VC-JWT 1.1 ``application/vc+ld+json+jwt``).
JWT_TYPES = ("application/vc+jwt", "application/vc+ld+json+jwt", "application/jwt")


def _b64json(part: str):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def signed_jwt(v: Verdict, token: str, fetcher: Fetcher) -> tuple[dict, dict] | None:
    """Read and check the signature of a compact JWS credential (a VC-JWT, OB 3.0 §8.2, or a VC-JWT status
    list credential): ``alg`` one of :data:`JWT_ALGORITHMS`, the key at ``kid`` (or the issuer's DID)
    resolved with :func:`hub.verification.keys.resolve` and controlled by the issuer.

    Returns:
        ``(payload, credential)`` (the credential: the ``vc`` claim of VC-JWT 1.1, else the payload), or
        None after recording the failed ``format`` / ``signature`` / ``key`` check on ``v``.
    """
    try:
        header_part, payload_part, _sig = token.strip().split(".")
        header, payload = _b64json(header_part), _b64json(payload_part)
        if not isinstance(header, dict) or not isinstance(payload, dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        v.failed("format", _l("not a readable JWT"), "bad-jwt")
        return None
    cred = payload.get("vc") if isinstance(payload.get("vc"), dict) else payload
    alg = header.get("alg")
    if alg not in JWT_ALGORITHMS:
        v.failed("signature", _l("the algorithm %(alg)s is not accepted (RS256, ES256, EdDSA)", alg=str(alg)), "alg")
        return None
    issuer = issuer_id(cred) or payload.get("iss")
    kid = header.get("kid")
    try:
        if isinstance(header.get("jwk"), dict) and not kid:
            key = keys.from_jwk(header["jwk"], issuer or "")
            key_id = issuer or ""
            if not (issuer or "").startswith("did:jwk:"):
                v.failed("key", _l("the JWT carries its own key, which does not prove who issued it"), "embedded-jwk")
                return None
        else:
            key_id = (
                kid if isinstance(kid, str) and ("#" in kid or ":" in kid) else f"{issuer}#{kid}" if kid else issuer
            )
            key = keys.resolve(key_id, fetcher)
    except FetchError as exc:
        v.failed("key", exc.reason, exc.code)
        return None
    except keys.KeyProblem as exc:
        v.failed("key", exc.reason, exc.code)
        return None
    try:
        jwk = import_key(key.jwk) if key.jwk else import_key(key.pem, "RSA")
        jws.deserialize_compact(token.strip(), jwk, algorithms=[alg])
    except (JoseError, ValueError, TypeError) as exc:
        log.info("VC-JWT does not verify: %r", exc)
        v.failed("signature", _l("the JWT signature does not verify"), "bad-signature")
        return None
    v.passed("signature", _l("%(alg)s signature verifies", alg=alg))
    if not issuer or not keys.controlled_by(key, key_id or "", issuer):
        v.failed("key", _l("the signing key %(key)s is not the issuer's", key=key_id or "?"), "key-owner")
        return None
    v.passed("key", _l("signed with %(key)s, a key of the issuer", key=key_id))
    return payload, cred


def verify_vc_jwt(v: Verdict, token: str, fetcher: Fetcher, emails) -> None:
    """A VC-JWT (OB 3.0 §8.2; payload the credential, or ``vc`` claim of VC-JWT 1.1)."""
    v.kind = "ob3-vc-jwt"
    read = signed_jwt(v, token, fetcher)
    if read is None:
        return
    payload, cred = read
    issuer = issuer_id(cred) or payload.get("iss")
    if payload.get("iss") not in (None, issuer) or payload.get("jti") not in (None, cred.get("id")):
        v.failed("format", _l("the JWT claims do not match the credential (iss, jti)"), "claims-mismatch")
    common(v, cred, fetcher, emails, start=payload.get("nbf"), end=payload.get("exp"))


def verify_json(v: Verdict, doc: dict, fetcher: Fetcher, emails) -> None:
    """An OB 3.0 credential with a Data Integrity proof."""
    v.kind = "ob3-data-integrity"
    if not check_contexts(v, doc):
        v.document = doc
        return
    if verify_ld_proof(v, doc, fetcher):
        common(v, doc, fetcher, emails)
    else:
        v.document = doc


def common(v: Verdict, cred: dict, fetcher: Fetcher, emails, *, start=None, end=None) -> None:
    """The checks after the proof: contexts (JWT), schema, status, validity, recipient, image."""
    v.document = cred
    if v.kind == "ob3-vc-jwt" and not check_contexts(v, cred):
        return
    check_schema(v, cred)
    subject = cred.get("credentialSubject") if isinstance(cred.get("credentialSubject"), dict) else {}
    achievement = subject.get("achievement") if isinstance(subject.get("achievement"), dict) else {}
    v.name = achievement.get("name") or cred.get("name")
    issuer = cred.get("issuer")
    v.issuer_name = issuer.get("name") if isinstance(issuer, dict) else issuer
    check_status(v, cred, fetcher)
    begins = cred.get("validFrom") or cred.get("issuanceDate") or start
    ends = cred.get("validUntil") or cred.get("expirationDate") or end
    check_window(v, begins, ends)
    identities = []
    for ident in subject.get("identifier") or []:
        if isinstance(ident, dict):
            identities.append(
                {
                    "identity": ident.get("identityHash"),
                    "hashed": ident.get("hashed"),
                    "salt": ident.get("salt"),
                    "type": ident.get("identityType"),
                }
            )
    if isinstance(subject.get("id"), str) and subject["id"].startswith("mailto:"):
        identities.append({"identity": subject["id"], "hashed": False, "type": "email"})
    check_recipient(v, identities, emails)
    check_image(v, achievement.get("image"))


def check_status(v: Verdict, cred: dict, fetcher: Fetcher) -> None:
    """``revocation`` check from ``credentialStatus``."""
    entries = cred.get("credentialStatus")
    entries = entries if isinstance(entries, list) else [entries] if entries else []
    if not entries:
        v.skipped("revocation", _l("the credential has no status to check"), "no-status")
        return
    for entry in entries:
        kind = entry.get("type") if isinstance(entry, dict) else None
        if kind in ("BitstringStatusListEntry", "StatusList2021Entry"):
            if not _bitstring(v, cred, entry, fetcher):
                return
        elif kind == "1EdTechRevocationList":
            if not _revocation_list(v, cred, entry, fetcher):
                return
        else:
            v.skipped("revocation", _l("status type %(type)s is not checked", type=str(kind)), "unknown-status")
            return
    v.passed("revocation", _l("not revoked (status checked with the issuer)"))


def _bitstring(v: Verdict, cred: dict, entry: dict, fetcher: Fetcher) -> bool:
    url = entry.get("statusListCredential")
    try:
        index = int(entry.get("statusListIndex"))
        fetched = fetcher.get(url)
        # A VC-JWT status list credential (what the hub links from its VC-JWT credentials) or a JSON one
        # with a Data Integrity proof (https://www.w3.org/TR/vc-bitstring-status-list/#bitstringstatuslistcredential).
        as_jwt = fetched.content_type in JWT_TYPES or fetched.body.lstrip()[:3] == b"eyJ"
        status_cred = None if as_jwt else fetched.json()
    except FetchError as exc:
        v.failed("revocation", exc.reason, "status-" + exc.code)
        return False
    except (TypeError, ValueError):
        v.failed("revocation", _l("the status entry is malformed"), "bad-status")
        return False
    probe = Verdict()
    if as_jwt:
        read = signed_jwt(probe, fetched.body.decode("ascii", "replace"), fetcher)
        status_cred = read[1] if read else None
        proven = read is not None
    else:
        proven = isinstance(status_cred, dict)
    if not isinstance(status_cred, dict) or issuer_id(status_cred) != issuer_id(cred):
        v.failed("revocation", _l("the status list is not the issuer's"), "status-issuer")
        return False
    if (
        not proven
        or not check_contexts(probe, status_cred)
        or (not as_jwt and not verify_ld_proof(probe, status_cred, fetcher))
    ):
        v.failed("revocation", _l("the status list's proof does not verify"), "status-proof")
        return False
    subject = status_cred.get("credentialSubject") or {}
    try:
        bits = decode_bitstring(subject.get("encodedList", ""))
        revoked = bool(bits[index >> 3] & (0x80 >> (index & 7)))
    except (ValueError, IndexError, OSError, EOFError, TypeError):
        v.failed("revocation", _l("the status list cannot be read"), "bad-status")
        return False
    purpose = entry.get("statusPurpose") or subject.get("statusPurpose")
    if revoked and purpose in ("revocation", "suspension"):
        v.failed("revocation", _l("revoked (status list bit %(index)s is set)", index=index), "revoked")
        return False
    return True


def _revocation_list(v: Verdict, cred: dict, entry: dict, fetcher: Fetcher) -> bool:
    try:
        doc = fetcher.get(entry.get("id")).json()
        revoked = doc.get("revokedCredentials") or []
    except FetchError as exc:
        v.failed("revocation", exc.reason, "status-" + exc.code)
        return False
    except AttributeError:
        v.failed("revocation", _l("the revocation list cannot be read"), "bad-status")
        return False
    for item in revoked:
        if isinstance(item, dict) and item.get("id") == cred.get("id"):
            reason = item.get("revocationReason") or "—"
            v.failed("revocation", _l("revoked: %(reason)s", reason=reason), "revoked")
            return False
    return True
