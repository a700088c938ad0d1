"""OpenID for Verifiable Credential Issuance 1.0, pre-authorized code flow: the issuer's side.

Spec: https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html (§4 Credential Offer,
§6 Token Endpoint, §7 Nonce Endpoint, §8 Credential Endpoint, §12 metadata, Appendix F.1 ``jwt`` proofs).

Steps, each a function here, called by :mod:`hub.operations.wallets`:

1. :func:`create_offer`: a signed-in learner asks to put one of their awards into a wallet; a random
   offer secret (in the ``credential_offer_uri``) is made, its SHA-256 stored, expiring after
   ``HUB_WALLET_OFFER_MINUTES``. The pre-authorized code is HMAC-SHA256(secret key, offer secret), so
   the offer document can be served again and only its hash is stored.
2. :func:`offer_document`: the Credential Offer (§4.1.1) behind that URI, while the code is unused.
3. :func:`redeem_code`: the token endpoint's ``pre-authorized_code`` grant; one conditional UPDATE,
   so a code works once. Answers a Bearer access token (hashed in the row), valid as long as the offer.
4. :func:`new_nonce`: a ``c_nonce`` (stored hashed, 5 minutes, used once).
5. :func:`issue_credential`: the Credential Request (§8.2) with an access token and a ``jwt`` proof of
   possession (Appendix F.1: ``typ`` ``openid4vci-proof+jwt``, ``alg`` EdDSA, Ed25519 or ES256, one of ``jwk`` or a
   ``did:key`` ``kid``, ``aud`` = the Credential Issuer Identifier, ``iat`` within 5 minutes, ``nonce``
   from the nonce endpoint). The credential is the award's OB 3.0 credential with
   ``credentialSubject.id`` = the holder's DID (did:key for Ed25519 keys, did:jwk otherwise), as
   ``ldp_vc`` (eddsa-rdfc-2022 Data Integrity) or ``jwt_vc_json`` (VC-JWT, issuer's algorithm). One
   credential per access token.

Every refusal is a :class:`WalletError` carrying the spec's error code (``invalid_grant``,
``invalid_token``, ``invalid_proof``, ``invalid_nonce``, ``unknown_credential_configuration``,
``invalid_credential_request``, ...), its HTTP status and a description in the request's language.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from hub.badges.models import Assertion
from hub.context import HubContext
from hub.credentials import ob3, ob3keys
from hub.credentials.models import PROOF_DATA_INTEGRITY, PROOF_VC_JWT
from hub.db import utcnow
from hub.errors import Forbidden, NotFound
from hub.i18n import LazyText
from hub.i18n import lazy as _l
from hub.learners.models import Learner
from hub.wallets.models import WalletNonce, WalletOffer

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PROOF_TYP = "openid4vci-proof+jwt"
#: Credential configuration id -> (OID4VCI format, the hub's proof format).
CONFIGURATIONS = {
    "OpenBadgeCredential_ldp_vc": ("ldp_vc", PROOF_DATA_INTEGRITY),
    "OpenBadgeCredential_jwt_vc_json": ("jwt_vc_json", PROOF_VC_JWT),
}
#: Key proof algorithms: ``Ed25519`` is RFC 9864's fully specified name of ``EdDSA`` with Ed25519.
PROOF_ALGORITHMS = ("EdDSA", "Ed25519", "ES256")
NONCE_SECONDS = 300
IAT_LEEWAY_SECONDS = 300
ED25519_MULTICODEC = b"\xed\x01"


class WalletError(Exception):
    """An OAuth / OID4VCI error answer: ``code`` (the spec's ``error``), ``status`` (HTTP), ``description``
    (``error_description``, a lazy text in the request's language)."""

    def __init__(self, code: str, description: LazyText | str, status: int = 400):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _code_for(ctx: HubContext, offer_secret: str) -> str:
    mac = hmac.new(ctx.settings.secret_key.encode("utf-8"), b"oid4vci-code:" + offer_secret.encode(), "sha256")
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def issuer_identifier(ctx: HubContext) -> str:
    """The Credential Issuer Identifier: ``HUB_BASE_URL`` without a trailing slash."""
    return ctx.settings.base_url.rstrip("/")


def offer_uri(ctx: HubContext, offer_secret: str) -> str:
    """The ``credential_offer_uri`` of an offer (``<base>/oid4vci/offers/<secret>``)."""
    return f"{issuer_identifier(ctx)}/oid4vci/offers/{offer_secret}"


def offer_link(ctx: HubContext, offer_secret: str) -> str:
    """``openid-credential-offer://?credential_offer_uri=<url-encoded URI>`` (§4.1), for the QR code."""
    from urllib.parse import urlencode

    return "openid-credential-offer://?" + urlencode({"credential_offer_uri": offer_uri(ctx, offer_secret)})


# -- 1. the offer -------------------------------------------------------------------------------------


def _owned_award(session: Session, learner: Learner, assertion_public_id: str) -> Assertion:
    a = session.scalars(select(Assertion).where(Assertion.public_id == assertion_public_id)).first()
    emails = {e.email for e in learner.emails if e.verified_at is not None}
    if a is None or a.recipient_plain not in emails:
        raise NotFound(_l("no badge %(id)s among yours", id=assertion_public_id))
    if a.revoked:
        raise Forbidden(_l("a revoked badge cannot be added to a wallet"))
    return a


@dataclass(frozen=True)
class NewOffer:
    """A new offer: its row, the ``credential_offer_uri`` and the ``openid-credential-offer://`` link."""

    row: WalletOffer
    uri: str
    link: str


def create_offer(session: Session, ctx: HubContext, learner: Learner, assertion_public_id: str) -> NewOffer:
    """Offer the learner's award ``assertion_public_id`` to a wallet (expires after
    ``HUB_WALLET_OFFER_MINUTES``); offers expired twice that long ago are deleted on the way. Raises
    NotFound (not the learner's award), Forbidden (revoked)."""
    assertion = _owned_award(session, learner, assertion_public_id)
    ob3.prepare(session, ctx, assertion)  # keys and status entry, for awards made before them
    # offers whose tokens have expired too are of no use any more (the audit log keeps what was issued)
    stale = utcnow() - 2 * _token_lifetime(ctx)
    session.execute(
        delete(WalletOffer).where(WalletOffer.expires_at < stale).execution_options(synchronize_session=False)
    )
    secret = secrets.token_urlsafe(32)
    row = WalletOffer(
        assertion_id=assertion.id,
        learner_id=learner.id,
        offer_hash=_sha256(secret),
        code_hash=_sha256(_code_for(ctx, secret)),
        expires_at=utcnow() + timedelta(minutes=ctx.settings.wallet_offer_minutes),
    )
    row.assertion = assertion
    session.add(row)
    session.flush()
    return NewOffer(row, offer_uri(ctx, secret), offer_link(ctx, secret))


def offer_document(session: Session, ctx: HubContext, offer_secret: str) -> dict:
    """The Credential Offer (§4.1.1) behind a ``credential_offer_uri``: ``credential_issuer``,
    ``credential_configuration_ids`` (both formats) and the ``pre-authorized_code`` grant (no
    ``tx_code``). Raises NotFound for an unknown, expired or already redeemed offer."""
    row = session.scalars(select(WalletOffer).where(WalletOffer.offer_hash == _sha256(offer_secret))).first()
    if row is None or row.redeemed_at is not None or row.expires_at <= utcnow():
        raise NotFound(_l("this credential offer is unknown, expired or already used"))
    return {
        "credential_issuer": issuer_identifier(ctx),
        "credential_configuration_ids": list(CONFIGURATIONS),
        "grants": {PRE_AUTHORIZED_GRANT: {"pre-authorized_code": _code_for(ctx, offer_secret)}},
    }


# -- 3. the token endpoint ----------------------------------------------------------------------------


def redeem_code(session: Session, ctx: HubContext, form: dict) -> tuple[WalletOffer, dict]:
    """The token endpoint (§6) for ``grant_type`` ``urn:ietf:params:oauth:grant-type:pre-authorized_code``.

    ``form``: the form fields. Returns the offer row and the Token Response
    ``{"access_token", "token_type": "Bearer", "expires_in": seconds}``.

    Raises:
        WalletError: ``unsupported_grant_type``, ``invalid_request`` (no code, or a ``tx_code`` the
            offer did not ask for), ``invalid_grant`` (unknown, expired or used code).
    """
    if form.get("grant_type") != PRE_AUTHORIZED_GRANT:
        raise WalletError("unsupported_grant_type", _l("only the pre-authorized code grant is supported"))
    code = form.get("pre-authorized_code") or ""
    if not code:
        raise WalletError("invalid_request", _l("pre-authorized_code is missing"))
    if form.get("tx_code"):
        raise WalletError("invalid_request", _l("this offer needs no transaction code"))
    now = utcnow()
    token = secrets.token_urlsafe(32)
    offer = session.scalars(select(WalletOffer).where(WalletOffer.code_hash == _sha256(code))).first()
    done = session.execute(
        update(WalletOffer)
        .where(WalletOffer.code_hash == _sha256(code), WalletOffer.redeemed_at.is_(None), WalletOffer.expires_at > now)
        .values(redeemed_at=now, token_hash=_sha256(token), token_expires_at=now + _token_lifetime(ctx))
        .execution_options(synchronize_session=False)
    )
    if offer is None or done.rowcount != 1:  # type: ignore[attr-defined]
        raise WalletError("invalid_grant", _l("the pre-authorized code is unknown, expired or already used"))
    session.refresh(offer)
    return offer, {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": int(_token_lifetime(ctx).total_seconds()),
    }


def _token_lifetime(ctx: HubContext) -> timedelta:
    return timedelta(minutes=ctx.settings.wallet_offer_minutes)


# -- 4. nonces ----------------------------------------------------------------------------------------


def new_nonce(session: Session) -> str:
    """A fresh ``c_nonce`` (§7.2), stored hashed, usable once within :data:`NONCE_SECONDS`; expired
    ones are deleted on the way."""
    now = utcnow()
    session.execute(delete(WalletNonce).where(WalletNonce.expires_at <= now))
    nonce = secrets.token_urlsafe(24)
    session.add(WalletNonce(nonce_hash=_sha256(nonce), expires_at=now + timedelta(seconds=NONCE_SECONDS)))
    session.flush()
    return nonce


def _use_nonce(session: Session, nonce: object) -> bool:
    if not isinstance(nonce, str) or not nonce:
        return False
    gone = session.execute(
        delete(WalletNonce).where(WalletNonce.nonce_hash == _sha256(nonce), WalletNonce.expires_at > utcnow())
    )
    return gone.rowcount == 1  # type: ignore[attr-defined]


# -- 5. the credential endpoint -----------------------------------------------------------------------


def offer_for_token(session: Session, authorization: str | None) -> WalletOffer:
    """The offer whose access token is in ``Authorization: Bearer <token>``.

    Raises:
        WalletError: ``invalid_token`` (401) for a missing, unknown or expired token, or one that already
            got its credential.
    """
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise WalletError("invalid_token", _l("an access token is required"), 401)
    row = session.scalars(select(WalletOffer).where(WalletOffer.token_hash == _sha256(token.strip()))).first()
    if row is None or row.token_expires_at is None or row.token_expires_at <= utcnow():
        raise WalletError("invalid_token", _l("the access token is unknown or expired"), 401)
    if row.issued_at is not None:
        raise WalletError("invalid_token", _l("the credential of this access token has been issued already"), 401)
    return row


def _b64url_json(part: str) -> dict:
    data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    value = json.loads(data)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _holder_key(header: dict) -> tuple[ECKey | OKPKey, str]:
    """The proof's public key and the holder's DID (did:key for Ed25519, did:jwk for others)."""
    if ("jwk" in header) == ("kid" in header) or "x5c" in header:
        raise WalletError("invalid_proof", _l("the proof must name its key by exactly one of jwk or kid"))
    if "jwk" in header:
        jwk = header["jwk"]
        if not isinstance(jwk, dict) or "d" in jwk:
            raise WalletError("invalid_proof", _l("the proof's jwk must be a public key"))
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            key: ECKey | OKPKey = OKPKey.import_key(jwk)
            raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
            return key, "did:key:" + ob3keys.multikey_from_public(raw)
        if jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
            public = {k: jwk[k] for k in ("kty", "crv", "x", "y")}
            encoded = base64.urlsafe_b64encode(json.dumps(public, separators=(",", ":")).encode()).rstrip(b"=")
            return ECKey.import_key(public), "did:jwk:" + encoded.decode("ascii")
        raise WalletError("invalid_proof", _l("only Ed25519 and P-256 keys are supported"))
    kid = header["kid"]
    if not isinstance(kid, str) or not kid.startswith("did:key:"):
        raise WalletError("invalid_proof", _l("a kid must be a did:key DID URL"))
    did = kid.split("#", 1)[0]
    try:
        raw = ob3keys.public_from_multikey(did.removeprefix("did:key:"))
    except ValueError:
        raise WalletError("invalid_proof", _l("only Ed25519 did:key keys are supported")) from None
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x}), did


def check_proof(session: Session, ctx: HubContext, proof_jwt: object) -> str:
    """Check one ``jwt`` key proof (Appendix F.1 and §8.2.1.1) and use up its nonce; returns the holder's DID.

    Raises:
        WalletError: ``invalid_proof`` (form, ``typ``, ``alg``, key, signature, ``aud``, ``iat``) or
            ``invalid_nonce`` (missing, unknown, expired or used ``nonce``).
    """
    if not isinstance(proof_jwt, str) or proof_jwt.count(".") != 2:
        raise WalletError("invalid_proof", _l("the proof is not a compact JWT"))
    try:
        header = _b64url_json(proof_jwt.split(".", 1)[0])
    except ValueError:
        raise WalletError("invalid_proof", _l("the proof is not a compact JWT")) from None
    if header.get("typ") != PROOF_TYP:
        raise WalletError("invalid_proof", _l("the proof's typ must be %(typ)s", typ=PROOF_TYP))
    if header.get("alg") not in PROOF_ALGORITHMS:
        raise WalletError(
            "invalid_proof", _l("the proof's alg must be one of %(algs)s", algs=", ".join(PROOF_ALGORITHMS))
        )
    key, holder = _holder_key(header)
    try:
        verified = jws.deserialize_compact(proof_jwt, key, algorithms=[header["alg"]])
        claims = json.loads(verified.payload)
    except (JoseError, ValueError):
        raise WalletError("invalid_proof", _l("the proof's signature does not verify with its key")) from None
    if not isinstance(claims, dict):
        raise WalletError("invalid_proof", _l("the proof's payload is not a JSON object"))
    aud = claims.get("aud")
    if issuer_identifier(ctx) not in ([aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []):
        raise WalletError("invalid_proof", _l("the proof's aud must be %(aud)s", aud=issuer_identifier(ctx)))
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool) or abs(time.time() - iat) > IAT_LEEWAY_SECONDS:
        raise WalletError("invalid_proof", _l("the proof's iat is missing or not within five minutes of now"))
    if not _use_nonce(session, claims.get("nonce")):
        raise WalletError("invalid_nonce", _l("the proof's nonce is missing, unknown, expired or used"))
    return holder


def _proof_of(body: dict) -> object:
    proofs = body.get("proofs")
    if proofs is None:
        raise WalletError("invalid_proof", _l("a proof of possession (proofs.jwt) is required"))
    if not isinstance(proofs, dict) or set(proofs) != {"jwt"}:
        raise WalletError("invalid_credential_request", _l("proofs must hold one jwt proof"))
    items = proofs["jwt"]
    if not isinstance(items, list) or len(items) != 1:
        raise WalletError(
            "invalid_credential_request", _l("one credential per request: proofs.jwt must hold one proof")
        )
    return items[0]


@dataclass(frozen=True)
class Issued:
    """What :func:`issue_credential` answered: the offer, the OID4VCI format, the holder's DID and the
    Credential Response (§8.3: ``{"credentials": [{"credential": ...}]}``)."""

    offer: WalletOffer
    format: str
    holder: str
    response: dict


def issue_credential(session: Session, ctx: HubContext, authorization: str | None, body: object) -> Issued:
    """The Credential Request (§8.2): ``body`` the JSON object
    ``{"credential_configuration_id": "OpenBadgeCredential_ldp_vc"|"OpenBadgeCredential_jwt_vc_json",
    "proofs": {"jwt": ["<key proof>"]}}``. Marks the offer issued (one credential per token).

    Raises:
        WalletError: ``invalid_token`` (401), ``invalid_credential_request``,
            ``unknown_credential_configuration``, ``invalid_proof``, ``invalid_nonce``,
            ``credential_request_denied`` (the award was revoked meanwhile).
    """
    offer = offer_for_token(session, authorization)
    if not isinstance(body, dict):
        raise WalletError("invalid_credential_request", _l("the credential request must be a JSON object"))
    config_id = body.get("credential_configuration_id")
    if "credential_identifier" in body or not isinstance(config_id, str):
        raise WalletError("invalid_credential_request", _l("credential_configuration_id is required"))
    if config_id not in CONFIGURATIONS:
        raise WalletError(
            "unknown_credential_configuration", _l("unknown credential configuration %(id)s", id=config_id[:80])
        )
    holder = check_proof(session, ctx, _proof_of(body))
    assertion = offer.assertion
    if assertion.revoked:
        raise WalletError("credential_request_denied", _l("this badge has been revoked"))
    fmt, proof_format = CONFIGURATIONS[config_id]
    issued = ob3.issue(session, ctx, assertion, proof_format, subject_id=holder)
    credential: dict | str = issued.document if proof_format == PROOF_DATA_INTEGRITY else issued.text
    offer.issued_at = utcnow()
    offer.issued_format = fmt
    offer.holder_id = holder
    session.flush()
    return Issued(offer, fmt, holder, {"credentials": [{"credential": credential}]})


# -- metadata -----------------------------------------------------------------------------------------


def issuer_metadata(ctx: HubContext) -> dict:
    """Credential Issuer Metadata (§12.2): endpoints, display names (Polish and English) and the two
    credential configurations (``ldp_vc`` with eddsa-rdfc-2022, ``jwt_vc_json`` with RS256/ES256/EdDSA),
    both bindable to ``did:key``/``did:jwk`` holders by a ``jwt`` proof (EdDSA or ES256)."""
    base = issuer_identifier(ctx)
    proof_types = {"jwt": {"proof_signing_alg_values_supported": list(PROOF_ALGORITHMS)}}
    display = [{"name": "Open Badge", "locale": "en"}, {"name": "Odznaka (Open Badge)", "locale": "pl"}]
    types = ["VerifiableCredential", "OpenBadgeCredential"]
    common = {
        "cryptographic_binding_methods_supported": ["did:key", "did:jwk", "jwk"],
        "proof_types_supported": proof_types,
        "credential_metadata": {"display": display},
    }
    return {
        "credential_issuer": base,
        "authorization_servers": [base],
        "credential_endpoint": f"{base}/oid4vci/credential",
        "nonce_endpoint": f"{base}/oid4vci/nonce",
        "display": [{"name": "Badge Hub", "locale": "en"}, {"name": "Badge Hub", "locale": "pl"}],
        "credential_configurations_supported": {
            "OpenBadgeCredential_ldp_vc": {
                "format": "ldp_vc",
                "credential_signing_alg_values_supported": ["eddsa-rdfc-2022"],
                "credential_definition": {"@context": list(ob3.OB3_CONTEXTS), "type": types},
                **common,
            },
            "OpenBadgeCredential_jwt_vc_json": {
                "format": "jwt_vc_json",
                "credential_signing_alg_values_supported": list(ob3.JWT_ALGORITHMS),
                "credential_definition": {"type": types},
                **common,
            },
        },
    }


def authorization_server_metadata() -> dict:
    """What the pre-authorized code grant adds to the hub's one OAuth 2.0 Authorization Server Metadata
    document (RFC 8414; OpenID4VCI 1.0 section 12.3), served by :func:`hub.web.obapi.oauth_metadata`:
    the grant type, anonymous access (no client authentication, ``none``)."""
    return {
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": True,
    }
