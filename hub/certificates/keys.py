"""The issuer's PDF signing certificate: self-issued X.509 by default, or a PKCS#12 the issuer uploads.

A self-issued certificate (ECDSA P-256, ten years, ``digitalSignature`` + ``nonRepudiation`` key usage,
RFC 5280) names the issuer as subject and issuer; it binds the PDF to the issuer inside the hub (the
public page names the issuer by the certificate's fingerprint) but is not on a PDF reader's trust list.
An issuer wanting reader-trusted signatures uploads a certificate from a trusted CA (PKCS#12).
The private key is stored encrypted with :class:`hub.crypto.SecretBox`.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.badges.models import Issuer
from hub.certificates.models import IssuerCertificate
from hub.context import HubContext
from hub.db import utcnow
from hub.errors import ServiceUnavailable, ValidationError
from hub.i18n import lazy as _l

log = logging.getLogger(__name__)

VALIDITY_DAYS = 3650


@dataclass(frozen=True)
class SigningMaterial:
    """Decrypted signing material: asn1crypto objects as pyHanko wants them."""

    certificate: asn1_x509.Certificate
    private_key: asn1_keys.PrivateKeyInfo
    chain: tuple[asn1_x509.Certificate, ...]
    fingerprint: str


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate, lower-case hex (64 characters)."""
    return hashlib.sha256(der).hexdigest()


def _name(issuer: Issuer) -> x509.Name:
    parts = [
        x509.NameAttribute(NameOID.COMMON_NAME, issuer.name[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, issuer.name[:64]),
    ]
    if issuer.email:
        parts.append(x509.NameAttribute(NameOID.EMAIL_ADDRESS, issuer.email))
    return x509.Name(parts)


def _store(session: Session, ctx: HubContext, issuer: Issuer, cert: x509.Certificate, key, chain, source: str):
    for old in active_rows(session, issuer):
        old.retired_at = utcnow()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    row = IssuerCertificate(
        issuer_id=issuer.id,
        source=source,
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        chain_pem="".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in chain) or None,
        private_key_encrypted=ctx.box.encrypt(pem),
        fingerprint=fingerprint(cert.public_bytes(serialization.Encoding.DER)),
    )
    session.add(row)
    session.flush()
    log.info("issuer PDF certificate stored", extra={"issuer": issuer.public_id, "source": source})
    return row


def active_rows(session: Session, issuer: Issuer) -> list[IssuerCertificate]:
    return list(
        session.scalars(
            select(IssuerCertificate).where(
                IssuerCertificate.issuer_id == issuer.id, IssuerCertificate.retired_at.is_(None)
            )
        )
    )


@dataclass(frozen=True)
class CertificateSummary:
    """What a person needs to recognise a signing certificate: subject and issuer common names (or the
    whole RFC 4514 name when there is no CN), validity (UTC), ``source`` and SHA-256 ``fingerprint``."""

    subject: str
    issued_by: str
    not_before: datetime
    not_after: datetime
    source: str
    fingerprint: str


def summary(row: IssuerCertificate) -> CertificateSummary:
    """Read :class:`CertificateSummary` from ``row``'s certificate (no private key is touched)."""
    cert = x509.load_pem_x509_certificate(row.certificate_pem.encode("ascii"))

    def name(value: x509.Name) -> str:
        cn = value.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(cn[0].value) if cn else value.rfc4514_string()

    return CertificateSummary(
        subject=name(cert.subject),
        issued_by=name(cert.issuer),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        source=row.source,
        fingerprint=row.fingerprint,
    )


def self_issue(session: Session, ctx: HubContext, issuer: Issuer) -> IssuerCertificate:
    """Make and store a new self-issued certificate for ``issuer`` (the previous one is retired)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = utcnow()
    name = _name(issuer)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return _store(session, ctx, issuer, cert, key, (), "self-issued")


def upload_pkcs12(
    session: Session, ctx: HubContext, issuer: Issuer, data: bytes, passphrase: str | None
) -> IssuerCertificate:
    """Store an issuer-supplied PKCS#12 (certificate, RSA or EC key, optional chain) as the signing
    certificate.

    Raises:
        ValidationError: unreadable archive, wrong passphrase, no key or certificate, another key type,
            or a certificate that is expired or not yet valid.
    """
    try:
        key, cert, chain = pkcs12.load_key_and_certificates(data, passphrase.encode() if passphrase else None)
    except ValueError:
        raise ValidationError(_l("the PKCS#12 file cannot be read (wrong passphrase?)"), field="pkcs12") from None
    if key is None or cert is None:
        raise ValidationError(_l("the PKCS#12 file must hold a certificate and its private key"), field="pkcs12")
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ValidationError(_l("only RSA and EC keys can sign PDFs here"), field="pkcs12")
    now = utcnow()
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise ValidationError(_l("the certificate is not valid now"), field="pkcs12")
    return _store(session, ctx, issuer, cert, key, tuple(chain or ()), "uploaded")


def signing_row(session: Session, ctx: HubContext, issuer: Issuer) -> IssuerCertificate:
    """The issuer's current signing certificate, self-issued when it has none (write paths only: the
    ``certificate.render`` job; public GETs use :func:`current_row`)."""
    rows = active_rows(session, issuer)
    return rows[-1] if rows else self_issue(session, ctx, issuer)


def current_row(session: Session, issuer: Issuer) -> IssuerCertificate:
    """The issuer's current signing certificate, looked up only (public GETs never write).

    Raises:
        ServiceUnavailable: the issuer has none yet (the certificate job self-issues it after the
            issuer's first award).
    """
    rows = active_rows(session, issuer)
    if not rows:
        raise ServiceUnavailable(
            _l("the issuer's certificate signing key is not made yet; try again shortly"), issuer=issuer.public_id
        )
    return rows[-1]


_material_cache: dict[tuple[str, str], SigningMaterial] = {}


def load_material(ctx: HubContext, row: IssuerCertificate) -> SigningMaterial:
    """Decrypt and parse ``row``: certificate, key and chain as pyHanko takes them.

    Kept per process, keyed on the certificate's fingerprint and the key's ciphertext (decrypting
    and parsing cost more than a signature). The ciphertext, not the ``SecretBox``, is the key: a
    re-encrypted or replaced key is a new entry, and many contexts (tests, workers) share one.

    Raises:
        ConfigurationError: the key cannot be decrypted with ``ctx.box`` (checked on first use only).
    """
    cache_key = (row.fingerprint, row.private_key_encrypted)
    found = _material_cache.get(cache_key)
    if found is not None:
        return found
    key = serialization.load_pem_private_key(ctx.box.decrypt(row.private_key_encrypted), password=None)
    der_key = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    cert = x509.load_pem_x509_certificate(row.certificate_pem.encode())
    chain = x509.load_pem_x509_certificates(row.chain_pem.encode()) if row.chain_pem else []
    material = SigningMaterial(
        certificate=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        private_key=asn1_keys.PrivateKeyInfo.load(der_key),
        chain=tuple(asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in chain),
        fingerprint=row.fingerprint,
    )
    _material_cache[cache_key] = material
    return material


def find_by_fingerprint(session: Session, value: str) -> IssuerCertificate | None:
    """The stored certificate (current or retired) with this SHA-256 fingerprint, if any."""
    return session.scalar(select(IssuerCertificate).where(IssuerCertificate.fingerprint == value))
