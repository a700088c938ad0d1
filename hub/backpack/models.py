"""Imported badges: what a learner brought from elsewhere, with its latest verification."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime


class ImportedBadge(PublicIdMixin, TimestampMixin, Base):
    """A badge a learner imported (OB 2.0 assertion or OB 3.0 credential, from a file, URL or paste).

    ``badge_key`` identifies the badge for de-duplication (the assertion/credential id, else a hash of
    the document); ``kind`` is the verdict's kind (``ob2-hosted``, ``ob3-vc-jwt``, ...); ``state`` the
    latest verdict (``valid``, ``revoked``, ``expired``, ``invalid``, ``unverifiable``) checked at
    ``checked_at`` with the checks in ``checks`` (stored texts, :func:`hub.i18n.dump_text`); ``document``
    the assertion or credential JSON; ``payload`` what re-verification verifies again (the JWS/JWT or JSON
    text, or ``source_url``); ``original`` the uploaded file (PNG, SVG, PDF) for the export, with its
    media type ``original_type``; ``position`` its place in the portfolio.
    """

    __tablename__ = "imported_badge"
    __table_args__ = (UniqueConstraint("learner_id", "badge_key"),)

    learner_id: Mapped[int] = mapped_column(ForeignKey("learner.id", ondelete="CASCADE"), index=True)
    badge_key: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(16))  # file | url | text
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(255))
    issuer_name: Mapped[str | None] = mapped_column(String(255))
    checks: Mapped[list] = mapped_column(JSON, default=list)
    document: Mapped[dict | None] = mapped_column(JSON)
    payload: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str | None] = mapped_column(String(2048))
    original: Mapped[bytes | None] = mapped_column(LargeBinary)
    original_type: Mapped[str | None] = mapped_column(String(64))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    position: Mapped[int] = mapped_column(Integer, default=0)
