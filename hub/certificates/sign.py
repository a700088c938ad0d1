"""PAdES signing of a certificate PDF with pyHanko, with the award's credentials embedded first.

One incremental update adds the embedded files (PDF 1.7 §7.11.4, ``/EmbeddedFiles`` name tree, each
also an Associated File of the document, ``/AF`` with relationship ``/Data``) and the signature
(PAdES baseline B-B: ``/SubFilter /ETSI.CAdES.detached``, ETSI EN 319 142-1), so the signature covers
the credentials as well as the page. No timestamp authority is contacted (the hub works offline), so
the signing time is the hub's clock (``/M`` of the signature dictionary), as PAdES B-B allows.

Speed (bench/pdf.py): asn1crypto re-encodes every value built from Python data each time it is
dumped, and pyHanko builds the CMS twice per PDF (a dry run to size ``/Contents``, then the real
one), rebuilding the ``signing-certificate-v2`` attribute (RFC 5035) from the certificate each
time. Both only depend on the signing certificate, so they are worked out once per certificate and
process (:func:`_prepared`): the attribute is kept as DER and the ``/Contents`` size is fixed from
one dry run. That roughly halves the time of :func:`sign_pdf`.
"""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from asn1crypto import tsp
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.attributes import CMSAttributeProvider, SignedAttributeProviderSpec
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko_certvalidator.registry import SimpleCertificateStore

from hub.certificates.keys import SigningMaterial

SIGNATURE_FIELD = "BadgeHubSignature"
OB3_FILENAME = "credential-ob3.json"
OB3_JWT_FILENAME = "credential-ob3.jwt"
OB2_FILENAME = "assertion-ob2.json"
MD_ALGORITHM = "sha256"


@dataclass(frozen=True)
class Attachment:
    """A file to embed: ``name`` (ASCII), ``data``, ``media_type``, ``description``."""

    name: str
    data: bytes
    media_type: str
    description: str


def _embed(writer: IncrementalPdfFileWriter, att: Attachment) -> None:
    stream = embed.EmbeddedFileObject.from_file_data(
        writer, data=att.data, mime_type=att.media_type, params=embed.EmbeddedFileParams(embed_checksum=False)
    )
    spec = embed.FileSpec(
        file_spec_string=att.name,
        file_name=att.name,
        embedded_data=stream,
        description=att.description,
        af_relationship=generic.NameObject("/Data"),
    )
    embed.embed_file(writer, spec)


class _SigningCertificateV2(CMSAttributeProvider):
    """The ``signing-certificate-v2`` attribute (RFC 5035 §3) from DER made once per certificate.

    A value parsed from DER dumps as those bytes; one built from Python data is re-encoded by
    asn1crypto on every dump, which made this small attribute a third of the signing time.
    """

    attribute_type = "signing_certificate_v2"

    def __init__(self, der: bytes):
        self.der = der

    async def build_attr_value(self, dry_run: bool = False) -> tsp.SigningCertificateV2:
        return tsp.SigningCertificateV2.load(self.der)  # a fresh object per signature: nothing shared


class _PadesSignedAttributes(SignedAttributeProviderSpec):
    """The signed attributes of a PAdES B-B signature without a commitment type or signer attributes:
    only ``signing-certificate-v2`` (ETSI EN 319 142-1 §5.2; ``signing-time`` must be absent, the
    time is the signature dictionary's ``/M``). pyHanko adds ``content-type`` and ``message-digest``."""

    def __init__(self, provider: _SigningCertificateV2):
        self.provider = provider

    def signed_attr_providers(self, data_digest: bytes, digest_algorithm: str) -> Iterable[CMSAttributeProvider]:
        yield self.provider


@dataclass(frozen=True)
class _Prepared:
    signer: signers.SimpleSigner
    bytes_reserved: int  # of /Contents, hex digits (two per CMS byte)


_prepared_cache: dict[str, _Prepared] = {}
_prepared_lock = threading.Lock()


def _prepared(material: SigningMaterial) -> _Prepared:
    """The pyHanko signer of ``material`` and its ``/Contents`` size, made once per certificate.

    The size comes from a dry run of the same signer, with pyHanko's own 50 % margin: the CMS holds
    the certificates, the fixed attributes and a signature of at most the key's size, so it does
    not change between documents. pyHanko refuses (``SigningError``) rather than truncate if it
    ever did not fit.
    """
    found = _prepared_cache.get(material.fingerprint)
    if found is not None:
        return found
    with _prepared_lock:
        signer = signers.SimpleSigner(
            signing_cert=material.certificate,
            signing_key=material.private_key,
            cert_registry=SimpleCertificateStore.from_certs(material.chain),
        )
        attr = as_signing_certificate_v2(material.certificate, hash_algo=MD_ALGORITHM)
        signer.signed_attr_prov_spec = _PadesSignedAttributes(_SigningCertificateV2(attr.dump()))
        dry = asyncio.run(signer.async_sign(bytes(32), MD_ALGORITHM, dry_run=True, use_pades=True))
        hex_len = 2 * len(dry.dump())
        found = _prepared_cache[material.fingerprint] = _Prepared(signer, hex_len + 2 * (hex_len // 4))
    return found


def sign_pdf(
    pdf: bytes, material: SigningMaterial, attachments: list[Attachment], *, reason: str, location: str
) -> bytes:
    """``pdf`` with ``attachments`` embedded and a PAdES signature by ``material`` over the result.

    Both go into one incremental update written once to memory; the input is not copied first.

    Raises:
        pyhanko.sign.general.SigningError: pyHanko could not sign (e.g. a key it does not support).
    """
    prepared = _prepared(material)
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for att in attachments:
        _embed(writer, att)
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        md_algorithm=MD_ALGORITHM,
    )
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=prepared.signer).sign_pdf(writer, output=out, bytes_reserved=prepared.bytes_reserved)
    return out.getvalue()
