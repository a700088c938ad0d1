"""The learner's data export (GDPR Art. 15 and 20): a ZIP streamed as it is written.

Layout::

    learner.json                      account, addresses, settings, badge choices
    badges/<n>-<id>/assertion-ob2.json    hosted OB 2.0 assertion
    badges/<n>-<id>/credential-ob3.json   OB 3.0 credential (Data Integrity proof)
    badges/<n>-<id>/badge.png|svg         the badge image with the OB 2.0 assertion baked in
    badges/<n>-<id>/certificate.pdf       the signed certificate
    imported/<n>-<id>/verification.json   an imported badge's latest verification (state, date, checks)
    imported/<n>-<id>/badge.json|.jwt     the assertion or credential as it was verified (JSON, or JWS/JWT)
    imported/<n>-<id>/original.png|svg|pdf the file the learner uploaded

:func:`stream` yields bytes: ``zipfile`` writes into a sink that hands each chunk on, with data
descriptors (the sink cannot seek), so memory holds one member at a time, not the whole archive.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

from hub.backpack.services import imported_of
from hub.certificates import services as certificates
from hub.context import HubContext
from hub.credentials import ob2, ob3
from hub.credentials.models import PROOF_DATA_INTEGRITY
from hub.learners.models import Learner
from hub.learners.services import badges_of, emails_of
from hub.timefmt import isoformat_z


class _Sink(io.RawIOBase):
    """A write-only, non-seekable stream whose written bytes are taken with :meth:`take`."""

    def __init__(self):
        self._chunks: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self._chunks.append(bytes(b))
        self._pos += len(b)
        return len(b)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out, self._chunks = b"".join(self._chunks), []
        return out


def _profile(learner: Learner, awards) -> dict:
    return {
        "id": learner.public_id,
        "created": isoformat_z(learner.created_at),
        "displayName": learner.display_name,
        "locale": learner.locale,
        "showName": learner.show_name,
        "allowIndexing": learner.allow_indexing,
        "emails": emails_of(learner),
        "badges": [
            {"assertion": x.assertion.public_id, "public": x.choice.public, "position": x.choice.position}
            for x in awards
        ],
    }


EXTENSIONS = {"image/png": "png", "image/svg+xml": "svg", "application/pdf": "pdf"}


def _write_imported(zf: zipfile.ZipFile, folder: str, row) -> None:
    """An imported badge's files (see the module docstring); check reasons in English."""
    from hub.i18n import english, load_text

    checks = [{**c, "reason": english(load_text(c.get("reason")))} for c in row.checks or []]
    zf.writestr(
        f"{folder}/verification.json",
        json.dumps(
            {
                "state": row.state,
                "kind": row.kind,
                "name": row.name,
                "issuerName": row.issuer_name,
                "checkedAt": isoformat_z(row.checked_at),
                "sourceUrl": row.source_url,
                "checks": [{k: v for k, v in c.items() if k != "title"} for c in checks],
            },
            ensure_ascii=False,
            indent=2,
        ),
    )
    if row.payload and not row.payload.lstrip().startswith("{"):
        zf.writestr(f"{folder}/badge.jwt", row.payload)
    elif row.document is not None:
        zf.writestr(f"{folder}/badge.json", json.dumps(row.document, ensure_ascii=False, indent=2))
    if row.original is not None and row.original_type in EXTENSIONS:
        zf.writestr(f"{folder}/original.{EXTENSIONS[row.original_type]}", row.original, zipfile.ZIP_STORED)


def stream(ctx: HubContext, learner_id: int) -> Iterator[bytes]:
    """Yield the learner's export ZIP. Opens its own unit of work (it outlives the request's session);
    certificates made on the way are cached like any other."""
    sink = _Sink()
    with ctx.db.session_scope() as session, zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        learner = session.get(Learner, learner_id)
        awards = badges_of(session, learner)
        zf.writestr("learner.json", json.dumps(_profile(learner, awards), ensure_ascii=False, indent=2))
        yield sink.take()
        for n, x in enumerate(awards, 1):
            a = x.assertion
            folder = f"badges/{n:03d}-{a.public_id}"
            zf.writestr(
                f"{folder}/assertion-ob2.json",
                json.dumps(ob2.assertion_json(ctx.urls, a), ensure_ascii=False, indent=2),
            )
            zf.writestr(f"{folder}/credential-ob3.json", ob3.issue(session, ctx, a, PROOF_DATA_INTEGRITY).text)
            if not a.revoked:
                ext = "png" if a.badge_class.image_type == "image/png" else "svg"
                zf.writestr(f"{folder}/badge.{ext}", ob2.baked_assertion(ctx.urls, a, ext, signed=False))
            zf.writestr(f"{folder}/certificate.pdf", certificates.certificate_pdf(session, ctx, a), zipfile.ZIP_STORED)
            yield sink.take()
        for n, row in enumerate(imported_of(session, learner), 1):
            _write_imported(zf, f"imported/{n:03d}-{row.public_id}", row)
            yield sink.take()
    yield sink.take()
