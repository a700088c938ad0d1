"""Check an uploaded certificate PDF: is its signature intact, which issuer signed it, and what is the
current status of the credential it carries.

Steps: (1) pyHanko validates the PAdES signature (hash and CMS signature, ``intact``/``valid``) and
its coverage: only a signature over the whole file counts, so nothing can be appended after signing;
(2) the signing certificate is matched by SHA-256 fingerprint to an issuer's stored certificate
(self-issued certificates are trusted because the hub made them; an uploaded one as stored);
(3) the embedded OB 3.0 credential's Data Integrity proof is checked against the issuer's keys
(:func:`hub.credentials.dataintegrity.verify_proof`) and must name the same issuer; (4) the award's
live status (valid / expired / revoked) is read from the database.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.badges.models import Assertion
from hub.certificates import keys
from hub.certificates.sharing import live_status
from hub.certificates.sign import OB3_FILENAME
from hub.context import HubContext
from hub.credentials import dataintegrity, ob3keys
from hub.errors import HubError, ValidationError
from hub.i18n import lazy as _l

log = logging.getLogger(__name__)


@dataclass
class PdfReport:
    """The result of :func:`verify_pdf`.

    ``signature``: ``intact`` | ``broken`` | ``modified`` (content added after signing) | ``missing``;
    ``issuer_name``/``issuer_id``: the issuer whose stored certificate signed it (None if unknown);
    ``credential``: ``verified`` | ``invalid`` | ``missing``; ``status``: ``valid`` | ``expired`` |
    ``revoked`` | ``unknown``; ``problems``: readable reasons for anything not good.
    """

    signature: str = "missing"
    issuer_name: str | None = None
    issuer_id: str | None = None
    credential: str = "missing"
    status: str = "unknown"
    assertion_id: str | None = None
    revocation_reason: str | None = None
    signer_subject: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Everything holds and the award is currently valid."""
        return self.signature == "intact" and self.credential == "verified" and self.status == "valid"


def embedded_files(reader: PdfFileReader) -> dict[str, bytes]:
    """The document's embedded files by name (``/Names /EmbeddedFiles`` name tree, PDF 1.7 §7.9.6)."""
    out: dict[str, bytes] = {}
    try:
        tree = reader.root["/Names"]["/EmbeddedFiles"]
    except KeyError:
        return out
    stack = [tree]
    while stack:
        node = stack.pop()
        if "/Kids" in node:
            stack.extend(k.get_object() for k in node["/Kids"])
        names = node["/Names"] if "/Names" in node else []
        for i in range(0, len(names) - 1, 2):
            spec = names[i + 1].get_object()
            try:
                out[str(names[i])] = spec["/EF"]["/F"].get_object().data
            except (KeyError, AttributeError):
                continue
    return out


def _check_signature(session: Session, reader: PdfFileReader, report: PdfReport):
    sigs = reader.embedded_signatures
    if not sigs:
        report.problems.append("the PDF is not signed")
        return None
    sig = sigs[-1]
    cert: asn1_x509.Certificate = sig.signer_cert
    report.signer_subject = cert.subject.human_friendly
    row = keys.find_by_fingerprint(session, keys.fingerprint(cert.dump()))
    roots = [cert] if row is not None else []
    vc = ValidationContext(trust_roots=roots, allow_fetching=False)
    status = validate_pdf_signature(sig, signer_validation_context=vc)
    if not (status.intact and status.valid):
        report.signature = "broken"
        report.problems.append("the signature does not match the document: it was changed")
    elif status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        report.signature = "modified"
        report.problems.append("content was added to the PDF after it was signed")
    else:
        report.signature = "intact"
    if row is None:
        report.problems.append("the signing certificate does not belong to any issuer of this hub")
        return None
    report.issuer_name, report.issuer_id = row.issuer.name, row.issuer.public_id
    return row


def _check_credential(session: Session, ctx: HubContext, files: dict[str, bytes], issuer_row, report: PdfReport):
    raw = files.get(OB3_FILENAME)
    if raw is None:
        report.problems.append("the PDF carries no Open Badges 3.0 credential")
        return
    try:
        cred = json.loads(raw)
        public_id = cred["id"].removeprefix("urn:uuid:")
    except (ValueError, KeyError, AttributeError):
        report.credential = "invalid"
        report.problems.append("the embedded credential is not readable JSON")
        return
    assertion = session.scalar(select(Assertion).where(Assertion.public_id == public_id))
    if assertion is None:
        report.credential = "invalid"
        report.problems.append("the embedded credential was not issued by this hub")
        return
    issuer = assertion.badge_class.issuer
    did = ob3keys.did_document(session, ctx, issuer)
    methods = {vm["id"]: vm for vm in did.get("verificationMethod", [])}

    def resolve(vm_id: str) -> bytes:
        if vm_id not in methods:
            raise ValueError(f"unknown verification method {vm_id}")
        return ob3keys.public_from_multikey(methods[vm_id]["publicKeyMultibase"])

    issuer_id = cred.get("issuer", {}).get("id") if isinstance(cred.get("issuer"), dict) else cred.get("issuer")
    try:
        if issuer_id != did["id"]:
            raise ValueError("issuer mismatch")
        dataintegrity.verify_proof(cred, resolve)
        report.credential = "verified"
    except (HubError, ValueError, KeyError):
        report.credential = "invalid"
        report.problems.append("the embedded credential's proof does not verify")
    if issuer_row is not None and issuer_row.issuer_id != issuer.id:
        report.credential = "invalid"
        report.problems.append("the PDF was signed by another issuer than the credential's")
    report.assertion_id = assertion.public_id
    report.status = live_status(assertion)
    report.revocation_reason = assertion.revocation_reason if assertion.revoked else None


def verify_pdf(session: Session, ctx: HubContext, data: bytes) -> PdfReport:
    """Check an uploaded PDF certificate (see the module docstring).

    Raises:
        ValidationError: ``data`` is not a readable PDF.
    """
    if not data.startswith(b"%PDF-"):
        raise ValidationError(_l("the upload is not a PDF"), field="file")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        report = PdfReport()
        row = _check_signature(session, reader, report)
        _check_credential(session, ctx, embedded_files(reader), row, report)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        log.info("unreadable PDF upload: %r", exc)
        raise ValidationError(_l("the PDF cannot be read"), field="file") from None
    return report
