"""Backpack services: import a badge for a learner, list, re-verify, remove.

A badge is verified by :func:`hub.verification.verify` against the learner's verified addresses
(:func:`hub.learners.services.emails_of`) and stored as an :class:`ImportedBadge` with the verdict; what
could not be read as a badge at all (no assertion or credential found) is refused, not stored. The same
badge imported again (same assertion/credential id) updates its row. Re-verification fetches the badge
again where it is hosted (``source_url``), or verifies the stored JWS/JWT/JSON again (revocation, expiry,
keys), with the cache off; when the state changes the learner gets an e-mail through the notification
outbox (:func:`hub.learners.notifications.enqueue_backpack`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.backpack.models import ImportedBadge
from hub.context import HubContext
from hub.errors import NotFound, ValidationError
from hub.i18n import joined
from hub.i18n import lazy as _l
from hub.learners.models import Learner
from hub.learners.notifications import enqueue_backpack
from hub.learners.services import emails_of
from hub.verification import Verdict, verify
from hub.verification.fetch import Fetcher
from hub.verification.report import FAILED, checks_from_json

log = logging.getLogger(__name__)

SOURCES = ("file", "url", "text")
MEDIA_TYPES = {b"\x89PNG": "image/png", b"%PDF": "application/pdf"}


@dataclass(frozen=True)
class Given:
    """What a learner gave: ``data`` (file bytes), ``url`` or ``text`` (exactly one)."""

    data: bytes | None = None
    url: str | None = None
    text: str | None = None

    @property
    def source(self) -> str:
        return "file" if self.data is not None else "url" if self.url else "text"


def _key(v: Verdict) -> str:
    doc = v.document or {}
    ident = doc.get("id") if isinstance(doc.get("id"), str) else None
    if ident:
        return ident[:255]
    return "sha256:" + hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _media_type(data: bytes) -> str | None:
    for magic, kind in MEDIA_TYPES.items():
        if data.startswith(magic):
            return kind
    return "image/svg+xml" if data.lstrip()[:1] == b"<" else None


def _apply(row: ImportedBadge, v: Verdict) -> None:
    row.kind, row.state = v.kind[:32], v.state
    row.name = (v.name or row.name or "")[:255] or None
    row.issuer_name = (str(v.issuer_name) if v.issuer_name else row.issuer_name or "")[:255] or None
    row.checks = v.as_json(rendered=False)["checks"]
    row.checked_at = v.checked_at or datetime.now(UTC)
    if v.document is not None:
        row.document = v.document


def import_badge(
    session: Session, ctx: HubContext, learner: Learner, given: Given, *, fetcher: Fetcher | None = None
) -> tuple[ImportedBadge, Verdict]:
    """Verify ``given`` for ``learner`` and keep it in their backpack; returns ``(row, verdict)``.

    Raises:
        ValidationError: nothing was given, or no badge could be read from it (the verdict's failed
            checks are the message, and ``checks`` carries them all).
    """
    if given.data is None and not (given.url or "").strip() and not (given.text or "").strip():
        raise ValidationError(_l("choose a badge file, or give its URL, JSON or JWT"), field="file")
    v = verify(
        ctx,
        data=given.data,
        url=given.url,
        text=given.text,
        emails=emails_of(learner),
        session=session,
        fetcher=fetcher,
    )
    if v.document is None:
        reasons = [c.reason for c in v.checks if c.status == FAILED] or [_l("no badge found")]
        log.info("backpack import refused for learner %s: %s", learner.public_id, v.summary())
        raise ValidationError(
            _l("this is not a badge the hub can read: %(reasons)s", reasons=joined(reasons, "; ")),
            field="file",
            checks=v.as_json()["checks"],
        )
    key = _key(v)
    row = session.scalar(
        select(ImportedBadge).where(ImportedBadge.learner_id == learner.id, ImportedBadge.badge_key == key)
    )
    if row is None:
        last = session.scalar(select(func.max(ImportedBadge.position)).where(ImportedBadge.learner_id == learner.id))
        row = ImportedBadge(learner_id=learner.id, badge_key=key, position=(last or 0) + 1, checks=[])
        session.add(row)
    row.source = given.source
    row.source_url = v.source_url or (given.url.strip() if given.url else None)
    row.payload = v.raw
    if given.data is not None and (kind := _media_type(given.data)) is not None:
        row.original, row.original_type = given.data, kind
    _apply(row, v)
    session.flush()
    return row, v


def imported_of(session: Session, learner: Learner) -> list[ImportedBadge]:
    """The learner's imported badges in portfolio order."""
    return list(
        session.scalars(
            select(ImportedBadge)
            .where(ImportedBadge.learner_id == learner.id)
            .order_by(ImportedBadge.position, ImportedBadge.id)
        )
    )


def find(session: Session, learner: Learner, public_id: str) -> ImportedBadge:
    """The learner's imported badge with that public id. Raises :class:`NotFound`."""
    row = session.scalar(
        select(ImportedBadge).where(ImportedBadge.learner_id == learner.id, ImportedBadge.public_id == public_id)
    )
    if row is None:
        raise NotFound(_l("no such imported badge"))
    return row


def remove(session: Session, row: ImportedBadge) -> None:
    """Delete an imported badge (its e-mails go with it)."""
    session.delete(row)
    session.flush()


def checks(row: ImportedBadge):
    """The stored checks as :class:`hub.verification.report.Check` objects (texts shown in the reader's
    language)."""
    return checks_from_json(row.checks)


def reverify(session: Session, ctx: HubContext, row: ImportedBadge, *, fetcher: Fetcher | None = None) -> bool:
    """Verify ``row`` again (fresh downloads) and store the verdict; when its state changed, queue an
    e-mail to the learner (sent after the caller's commit by :func:`hub.learners.notifications.deliver`).
    Returns whether the state changed."""
    learner = session.get(Learner, row.learner_id)
    emails = emails_of(learner) if learner is not None else []
    own = fetcher is None
    fetcher = fetcher or Fetcher.from_settings(ctx.settings, use_cache=False)
    try:
        if row.payload:
            v = verify(ctx, text=row.payload, emails=emails, session=session, fetcher=fetcher)
        elif row.source_url:
            v = verify(ctx, url=row.source_url, emails=emails, session=session, fetcher=fetcher)
        elif row.original is not None:
            v = verify(ctx, data=row.original, emails=emails, session=session, fetcher=fetcher)
        else:
            return False
    finally:
        if own:
            fetcher.close()
    before = row.state
    _apply(row, v)
    changed = v.state != before
    if changed:
        log.info("imported badge %s: %s -> %s", row.public_id, before, v.state)
        enqueue_backpack(session, row.id)
    session.flush()
    return changed
