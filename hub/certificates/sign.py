"""PAdES signing of a certificate PDF with pyHanko, with the award's credentials embedded first.

One incremental update adds the embedded files (PDF 1.7 §7.11.4, ``/EmbeddedFiles`` name tree, each
also an Associated File of the document, ``/AF`` with relationship ``/Data``) and the signature
(PAdES baseline B-B: ``/SubFilter /ETSI.CAdES.detached``, ETSI EN 319 142-1), so the signature covers
the credentials as well as the page. No timestamp authority is contacted (the hub works offline), so
the signing time is the hub's clock (``/M`` of the signature dictionary), as PAdES B-B allows.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from hub.certificates.keys import SigningMaterial

SIGNATURE_FIELD = "BadgeHubSignature"
OB3_FILENAME = "credential-ob3.json"
OB3_JWT_FILENAME = "credential-ob3.jwt"
OB2_FILENAME = "assertion-ob2.json"


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


def sign_pdf(
    pdf: bytes, material: SigningMaterial, attachments: list[Attachment], *, reason: str, location: str
) -> bytes:
    """``pdf`` with ``attachments`` embedded and a PAdES signature by ``material`` over the result."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    for att in attachments:
        _embed(writer, att)
    signer = signers.SimpleSigner(
        signing_cert=material.certificate,
        signing_key=material.private_key,
        cert_registry=SimpleCertificateStore.from_certs(material.chain),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        md_algorithm="sha256",
    )
    out = io.BytesIO()
    signers.PdfSigner(meta, signer=signer).sign_pdf(writer, output=out)
    return out.getvalue()
