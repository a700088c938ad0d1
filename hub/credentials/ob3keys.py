"""Issuer keys and identifiers for Open Badges 3.0: Ed25519 Multikeys, ES256 keys, DID documents.

Each issuer keeps its RSA key (``IssuerKey.algorithm == "RS256"``, made by the badges service) for
JWS, an Ed25519 key (``"Ed25519"``) for Data Integrity proofs and ``EdDSA`` VC-JWTs, and a P-256 key
(``"ES256"``). Private keys are PKCS#8 PEM encrypted with ``ctx.box``.

Keys are made on write paths only (:func:`ensure_keys`: when the issuer is created, at its next award,
by ``badgehub init`` for issuers made before): public GETs never write, so reading a credential, a
DID document or a status list only looks keys up (:func:`active_key`) and answers 503 when one is
missing, never making it then.

The issuer's identifier is ``did:web`` under ``HUB_BASE_URL`` (:meth:`hub.urls.Urls.issuer_did`)
unless its settings choose ``did:key`` (then the active Ed25519 key *is* the identifier, so rotating
that key changes the issuer id; did:web keeps one id across rotations). Rotation: retired keys stay
in the DID document, so credentials they signed keep verifying.

Specs: Multikey https://www.w3.org/TR/controller-document/#multikey, did:key
https://w3c-ccg.github.io/did-key-spec/, did:web https://w3c-ccg.github.io/did-method-web/.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

import base58
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from joserfc.jwk import ECKey, OKPKey, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hub.badges.models import Issuer, IssuerKey
from hub.context import HubContext
from hub.credentials.models import DID_METHODS, JWT_ALGORITHMS, PROOF_FORMATS, IssuerCredentialSettings
from hub.errors import ConfigurationError, NotFound, ServiceUnavailable, ValidationError
from hub.i18n import N_, joined
from hub.i18n import lazy as _l

ED25519_MULTICODEC = b"\xed\x01"

#: The OB 3.0 key algorithms every issuer has (next to the badges service's RS256 key): ES256 too,
#: whatever the issuer's ``jwt_algorithm``, because a VC-JWT's ``?alg=ES256`` is a public GET that must
#: find its key made (a P-256 key costs well under a millisecond to make).
OB3_ALGORITHMS = ("Ed25519", "ES256")

DID_CONTEXTS = [
    "https://www.w3.org/ns/did/v1",
    "https://w3id.org/security/multikey/v1",
    "https://w3id.org/security/jwk/v1",
]


#: The key algorithm (``IssuerKey.algorithm``) behind each VC-JWT ``alg``.
KEY_FOR_JWT_ALGORITHM = {"RS256": "RS256", "ES256": "ES256", "EdDSA": "Ed25519"}


class DidKeyAlgorithm(ValidationError):
    """A did:key issuer was asked for a VC-JWT algorithm other than EdDSA (its identifier *is* its
    Ed25519 key, so it has no other). 422 problem ``did-key-algorithm``, ``field: alg``."""

    slug = "did-key-algorithm"
    title = N_("Algorithm not available for a did:key issuer")


class DidKeyAlgorithmConflict(DidKeyAlgorithm):
    """The same problem when only one of DID method and algorithm was asked for and the other, as stored,
    contradicts it (did:key asked while the stored algorithm is RS256, or the reverse): the request is
    valid, the issuer's current settings refuse it, so 409 (RFC 9110 §15.5.10)."""

    status = 409


def multikey_from_public(raw: bytes) -> str:
    """``publicKeyMultibase`` of a 32-byte Ed25519 public key: ``z`` + base58btc(0xed01 + key)."""
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return "z" + base58.b58encode(ED25519_MULTICODEC + raw).decode("ascii")


def public_from_multikey(multibase: str) -> bytes:
    """The raw 32-byte Ed25519 key of a ``z6Mk...`` multibase value.

    Raises:
        ValueError: not base58btc, or not an Ed25519 public key multicodec.
    """
    if not multibase.startswith("z"):
        raise ValueError("only base58btc multibase ('z') is supported")
    data = base58.b58decode(multibase[1:])
    if data[:2] != ED25519_MULTICODEC or len(data) != 34:
        raise ValueError("not an Ed25519 Multikey")
    return data[2:]


@dataclass(frozen=True)
class SigningKey:
    """A loaded private key: ``vm_id`` is the verification method id (DID URL) that resolves to it."""

    row: IssuerKey
    vm_id: str
    private: object  # cryptography private key

    @property
    def algorithm(self) -> str:
        return self.row.algorithm

    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def settings_for(session: Session, issuer: Issuer) -> IssuerCredentialSettings:
    """The issuer's OB 3.0 settings row, or an unsaved row holding the defaults."""
    row = session.query(IssuerCredentialSettings).filter_by(issuer_id=issuer.id).one_or_none()
    return row or IssuerCredentialSettings(
        issuer_id=issuer.id, proof_format="data-integrity", did_method="web", jwt_algorithm="RS256"
    )


SETTINGS_FIELDS = ("did_method", "proof_format", "jwt_algorithm")


def _choice(value, allowed: tuple[str, ...], field: str) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ValidationError(
            _l("%(field)s must be one of %(choices)s", field=field, choices=joined(allowed)), field=field
        )
    return value


def update_settings(
    session: Session,
    ctx: HubContext,
    issuer: Issuer,
    *,
    did_method: str | None = None,
    proof_format: str | None = None,
    jwt_algorithm: str | None = None,
) -> IssuerCredentialSettings:
    """Change how the issuer's OB 3.0 credentials are made; arguments left None keep their value.

    - ``did_method``: ``web`` (``did:web`` under ``HUB_BASE_URL``; keeps one id across key rotations)
      or ``key`` (``did:key`` of the active Ed25519 key: no hosting needed, but the id changes when
      that key is rotated); ``did:web`` / ``did:key`` are accepted too.
    - ``proof_format``: the default of credentials served without an explicit format (baked images,
      the certificate's embedded credential): ``data-integrity`` or ``vc-jwt``.
    - ``jwt_algorithm``: the default VC-JWT ``alg``: ``RS256``, ``ES256`` or ``EdDSA``; a did:key issuer
      has one key (Ed25519), so only ``EdDSA``.

    Credentials are built and signed when served, so a change applies to every credential of the
    issuer from then on, earlier awards included (with did:web <-> did:key their ``issuer.id`` changes).
    Flushes the row (made on first change); makes missing keys (a write path).

    Raises:
        ValidationError: an unknown value (``field`` names it), or did:key with an algorithm other
            than EdDSA asked together (:class:`DidKeyAlgorithm`, 422, ``field: jwt_algorithm``).
        DidKeyAlgorithmConflict: one of them asked, the other as stored contradicts it (409, ``field``
            names the one asked).
    """
    row = session.query(IssuerCredentialSettings).filter_by(issuer_id=issuer.id).one_or_none()
    if row is None:
        defaults = settings_for(session, issuer)
        row = IssuerCredentialSettings(
            issuer_id=issuer.id,
            proof_format=defaults.proof_format,
            did_method=defaults.did_method,
            jwt_algorithm=defaults.jwt_algorithm,
        )
        session.add(row)
    if did_method is not None:
        did_method = did_method.removeprefix("did:") if isinstance(did_method, str) else did_method
        row.did_method = _choice(did_method, DID_METHODS, "did_method")
    if proof_format is not None:
        row.proof_format = _choice(proof_format, PROOF_FORMATS, "proof_format")
    if jwt_algorithm is not None:
        row.jwt_algorithm = _choice(jwt_algorithm, JWT_ALGORITHMS, "jwt_algorithm")
    if row.did_method == "key" and row.jwt_algorithm != "EdDSA":
        asked_both = did_method is not None and jwt_algorithm is not None
        raise (DidKeyAlgorithm if asked_both else DidKeyAlgorithmConflict)(
            _l(
                "a did:key issuer has one Ed25519 key, so its VC-JWT algorithm must be EdDSA (not %(alg)s)",
                alg=row.jwt_algorithm,
            ),
            field="jwt_algorithm" if jwt_algorithm is not None or did_method is None else "did_method",
        )
    ensure_keys(session, ctx, issuer)
    session.flush()
    return row


def settings_json(session: Session, ctx: HubContext, issuer: Issuer) -> dict:
    """The issuer's OB 3.0 settings as the API shows them: ``did_method``, ``proof_format``,
    ``jwt_algorithm``, plus ``issuer_id`` (the DID credentials name now) and ``did_document`` (URL,
    did:web only)."""
    row = settings_for(session, issuer)
    return {
        "did_method": row.did_method,
        "proof_format": row.proof_format,
        "jwt_algorithm": row.jwt_algorithm,
        "issuer_id": issuer_id(session, ctx, issuer),
        "did_document": ctx.urls.issuer_did_document(issuer.public_id) if row.did_method == "web" else None,
    }


def _new_private(algorithm: str):
    if algorithm == "Ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ConfigurationError(f"the hub does not make {algorithm} keys here")


def _active(issuer: Issuer, algorithm: str) -> IssuerKey | None:
    rows = [k for k in issuer.keys if k.algorithm == algorithm and k.retired_at is None]
    return rows[-1] if rows else None


def active_key(issuer: Issuer, algorithm: str = "Ed25519") -> IssuerKey:
    """The issuer's active key for ``algorithm`` (``Ed25519``, ``ES256`` or ``RS256``), never made here
    (for the read paths: public GETs never write).

    Raises:
        ServiceUnavailable: the issuer has no active key for it yet (an issuer made before keys were
            made with it, which has had no award since: ``badgehub init`` makes them).
    """
    row = _active(issuer, algorithm)
    if row is None:
        raise ServiceUnavailable(
            _l("the issuer's %(algorithm)s key is not made yet; try again later", algorithm=algorithm),
            issuer=issuer.public_id,
        )
    return row


def ensure_keys(session: Session, ctx: HubContext, issuer: Issuer) -> list[IssuerKey]:
    """Make the issuer's missing :data:`OB3_ALGORITHMS` keys (a write path: issuer creation, an award,
    ``badgehub init``); returns the active ones. With ``issuer.keys`` loaded (the award service loads
    them for its RS256 key) an issuer that has them costs no statement."""
    return [ensure_key(session, ctx, issuer, algorithm) for algorithm in OB3_ALGORITHMS]


def backfill(session: Session, ctx: HubContext) -> int:
    """Give every issuer its missing :data:`OB3_ALGORITHMS` keys (``badgehub init``, after migrating).
    Returns how many issuers got a key."""
    changed = 0
    for issuer in session.scalars(select(Issuer).options(selectinload(Issuer.keys)).order_by(Issuer.id)):
        if any(_active(issuer, algorithm) is None for algorithm in OB3_ALGORITHMS):
            ensure_keys(session, ctx, issuer)
            changed += 1
    return changed


def ensure_key(session: Session, ctx: HubContext, issuer: Issuer, algorithm: str = "Ed25519") -> IssuerKey:
    """The issuer's active key for ``algorithm`` (``Ed25519`` or ``ES256``), made when missing (write
    paths only; the read paths use :func:`active_key`).

    Flushes a new :class:`IssuerKey` (private key encrypted with ``ctx.box``) when there is none.
    For ``RS256`` the badges service's key is returned (never made here).

    Raises:
        ConfigurationError: ``RS256`` asked for and the issuer has no active RSA key.
    """
    row = _active(issuer, algorithm)
    if row is not None:
        return row
    if algorithm == "RS256":
        raise ConfigurationError(f"issuer {issuer.public_id} has no active RS256 key")
    private = _new_private(algorithm)
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    row = IssuerKey(
        issuer=issuer,
        algorithm=algorithm,
        public_pem=public_pem.decode("ascii"),
        private_key_encrypted=ctx.box.encrypt(pem),
    )
    session.add(row)
    session.flush()
    return row


def rotate_key(session: Session, ctx: HubContext, issuer: Issuer, algorithm: str = "Ed25519") -> IssuerKey:
    """Retire the active ``algorithm`` key (it stays published) and make a new one."""
    old = _active(issuer, algorithm)
    if old is not None:
        old.retired_at = datetime.now(UTC)
    session.flush()
    return ensure_key(session, ctx, issuer, algorithm)


def _public_key(row: IssuerKey):
    return serialization.load_pem_public_key(row.public_pem.encode("ascii"))


def ed25519_multikey(row: IssuerKey) -> str:
    raw = _public_key(row).public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return multikey_from_public(raw)


def issuer_id(session: Session, ctx: HubContext, issuer: Issuer) -> str:
    """The issuer's OB 3.0 ``id``: its ``did:web``, or ``did:key`` of its active Ed25519 key."""
    if settings_for(session, issuer).did_method == "key":
        return "did:key:" + ed25519_multikey(active_key(issuer, "Ed25519"))
    return ctx.urls.issuer_did(issuer.public_id)


def verification_method_id(session: Session, ctx: HubContext, issuer: Issuer, row: IssuerKey) -> str:
    """The DID URL naming ``row`` (``<did>#<key public id>``; did:key uses ``#<multikey>``)."""
    did = issuer_id(session, ctx, issuer)
    if did.startswith("did:key:"):
        return f"{did}#{did.removeprefix('did:key:')}"
    return f"{did}#{row.public_id}"


def load_signing_key(session: Session, ctx: HubContext, issuer: Issuer, algorithm: str) -> SigningKey:
    """Decrypt the issuer's active ``algorithm`` key (read only: keys are made by :func:`ensure_keys`).

    Raises:
        DidKeyAlgorithm: a did:key issuer asked to sign with a non-Ed25519 key (422; a client's choice
            of ``?alg=``, never a server fault).
        ConfigurationError: the KEK cannot open it.
        ServiceUnavailable: the issuer has no such key yet (:func:`active_key`).
    """
    if algorithm == "EdDSA":
        algorithm = "Ed25519"
    if algorithm != "Ed25519" and settings_for(session, issuer).did_method == "key":
        raise DidKeyAlgorithm(
            _l(
                "this issuer is a did:key, whose one key is Ed25519: it signs VC-JWTs with EdDSA only, not %(alg)s",
                alg=algorithm,
            ),
            field="alg",
        )
    row = active_key(issuer, algorithm)
    private = _decrypt_private(ctx.box, row.private_key_encrypted)
    return SigningKey(row=row, vm_id=verification_method_id(session, ctx, issuer, row), private=private)


@lru_cache(maxsize=256)
def _decrypt_private(box, token: str):
    """Decrypted, parsed private key, cached per (box, ciphertext): loading an RSA key costs ~50 ms
    (cryptography checks the key), which would otherwise be paid on every VC-JWT."""
    return serialization.load_pem_private_key(box.decrypt(token), password=None)


def _jwk(row: IssuerKey) -> dict:
    pub = _public_key(row)
    cls = {"RS256": RSAKey, "ES256": ECKey, "Ed25519": OKPKey}[row.algorithm]
    return cls.import_key(pub).as_dict(private=False)


def status_list_algorithm(session: Session, issuer: Issuer) -> str:
    """The VC-JWT ``alg`` of the issuer's status lists in VC-JWT form: its default VC-JWT algorithm
    (``EdDSA`` for did:key). Its key is the DID document's first verification method
    (:func:`did_document`), where verifiers that take "the issuer's key" look."""
    settings = settings_for(session, issuer)
    return "EdDSA" if settings.did_method == "key" else settings.jwt_algorithm


def _document_order(session: Session, issuer: Issuer) -> list[IssuerKey]:
    """The issuer's keys, the active key of its default VC-JWT algorithm first, then the other active
    keys, then the retired ones (each group oldest first)."""
    first = KEY_FOR_JWT_ALGORITHM[status_list_algorithm(session, issuer)]

    def rank(row: IssuerKey) -> tuple:
        retired = row.retired_at is not None
        return (retired, retired or row.algorithm != first, row.id or 0)

    return sorted(issuer.keys, key=rank)


def did_document(session: Session, ctx: HubContext, issuer: Issuer) -> dict:
    """The issuer's DID document for ``did:web`` (served at :meth:`hub.urls.Urls.issuer_did_document`).

    Every key, retired or not, is listed: Ed25519 keys as ``Multikey`` (``publicKeyMultibase``, for
    eddsa-rdfc-2022), RSA and P-256 keys as ``JsonWebKey`` (``publicKeyJwk``, for VC-JWT ``kid``s); all
    are ``assertionMethod``s. The first method is the active key of the issuer's default VC-JWT
    algorithm (:func:`status_list_algorithm`): JWT-only verifiers that take "the issuer's key" from a
    DID document take the first, and the status list's VC-JWT form is signed with it.
    Shape: https://www.w3.org/TR/did-core/#did-documents.
    """
    did = ctx.urls.issuer_did(issuer.public_id)
    methods = []
    for row in _document_order(session, issuer):
        vm = {"id": f"{did}#{row.public_id}", "controller": did}
        if row.algorithm == "Ed25519":
            vm.update(type="Multikey", publicKeyMultibase=ed25519_multikey(row))
        elif row.algorithm in ("RS256", "ES256"):
            vm.update(type="JsonWebKey", publicKeyJwk=_jwk(row))
        else:
            continue
        methods.append(vm)
    ids = [vm["id"] for vm in methods]
    return {
        "@context": DID_CONTEXTS,
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": ids,
        "authentication": ids,
    }


def find_issuer(session: Session, issuer_public_id: str) -> Issuer:
    """The issuer with that public id. Raises :class:`NotFound`."""
    issuer = session.query(Issuer).filter_by(public_id=issuer_public_id).one_or_none()
    if issuer is None:
        raise NotFound(f"no issuer {issuer_public_id}")
    return issuer
