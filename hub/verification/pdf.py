"""PDF certificates that embed a credential: this hub's own (checked by
:func:`hub.certificates.verify.verify_pdf`: PAdES signature by an issuer's stored certificate, the
embedded OB 3.0 credential's proof against the issuer's keys, the award's live status) and other
issuers' (the PDF signature's integrity is reported; authenticity comes from the embedded credential,
verified like any other: every embedded ``.json``/``.jwt``/``.jws`` file that holds one)."""

from __future__ import annotations

import io
import logging

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy.orm import Session

from hub.certificates.verify import embedded_files, verify_pdf
from hub.context import HubContext
from hub.errors import HubError
from hub.i18n import lazy as _l
from hub.verification.report import Verdict

log = logging.getLogger(__name__)


def _own(v: Verdict, report) -> None:
    v.kind = "pdf"
    v.issuer_name = report.issuer_name
    v.passed(
        "pdf_signature", _l("signed by %(issuer)s, an issuer of this hub; unchanged since", issuer=report.issuer_name)
    )
    if report.credential == "verified":
        v.passed("proof", _l("the embedded credential's proof verifies with the issuer's keys"))
    else:
        v.failed("pdf_credential", _l("the embedded credential does not verify"), "pdf-credential")
    if report.status == "revoked":
        v.failed("revocation", _l("revoked: %(reason)s", reason=report.revocation_reason or "—"), "revoked")
    elif report.status == "expired":
        v.failed("expiry", _l("the badge has expired"), "expired")
    else:
        v.passed("revocation", _l("not revoked (status read from this hub)"))


def verify_pdf_bytes(v: Verdict, data: bytes, session: Session | None, ctx: HubContext, verify_embedded) -> None:
    """Verify a PDF into ``v``; ``verify_embedded(v, text)`` verifies an embedded credential's text."""
    v.kind = "pdf"
    if session is not None:
        try:
            report = verify_pdf(session, ctx, data)
        except HubError as exc:
            v.failed("input", exc.detail, "pdf-unreadable")
            return
        if report.signature == "intact" and report.issuer_id and report.credential != "missing":
            _own(v, report)
            return
        if report.signature in ("broken", "modified"):
            v.failed("pdf_signature", _l("the PDF was changed after it was signed"), f"pdf-{report.signature}")
        elif report.signature == "intact":
            v.skipped(
                "pdf_signature",
                _l(
                    "the PDF signature is intact, by a signer this hub does not know (%(who)s)",
                    who=report.signer_subject or "?",
                ),
                "pdf-unknown-signer",
            )
        else:
            v.skipped("pdf_signature", _l("the PDF is not signed"), "pdf-unsigned")
    try:
        files = embedded_files(PdfFileReader(io.BytesIO(data), strict=False))
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        log.info("verifier: unreadable PDF: %r", exc)
        v.failed("input", _l("the PDF cannot be read"), "pdf-unreadable")
        return
    texts = []
    for name, raw in sorted(files.items()):
        if not name.lower().endswith((".json", ".jsonld", ".jwt", ".jws", ".txt")):
            continue
        try:
            texts.append(raw.decode("utf-8").strip())
        except UnicodeDecodeError:
            continue
    if not texts:
        v.failed("pdf_credential", _l("the PDF carries no badge or credential"), "pdf-no-credential")
        return
    v.passed("pdf_credential", _l("the PDF carries a credential (%(n)s file(s)); verifying the first", n=len(texts)))
    verify_embedded(v, texts[0])
    v.kind = f"pdf+{v.kind}" if not v.kind.startswith("pdf") else v.kind
