"""Certificate tables: the issuer's PDF signing certificate, its certificate layout, and the render cache."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.badges.models import Assertion, Issuer
from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime


class IssuerCertificate(PublicIdMixin, TimestampMixin, Base):
    """An X.509 certificate (with its private key, Fernet-encrypted PKCS#8 PEM) that signs the issuer's
    PDFs. ``source`` is ``self-issued`` (made by the hub) or ``uploaded`` (PKCS#12 from the issuer).
    ``retired_at`` is set when replaced: PDFs it signed stay attributable to the issuer by
    ``fingerprint`` (SHA-256 of the DER certificate, hex)."""

    __tablename__ = "issuer_certificate"

    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16), default="self-issued")
    certificate_pem: Mapped[str] = mapped_column(Text)
    chain_pem: Mapped[str | None] = mapped_column(Text)  # intermediates of an uploaded certificate
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    issuer: Mapped[Issuer] = relationship()


class CertificateLayout(TimestampMixin, Base):
    """An issuer's certificate choices: an uploaded template (sanitised HTML body and CSS, rendered in
    a sandbox) or the default one (both None), and ``bilingual`` (Polish and English on one page)."""

    __tablename__ = "certificate_layout"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), unique=True)
    template_html: Mapped[str | None] = mapped_column(Text)
    template_css: Mapped[str | None] = mapped_column(Text)
    bilingual: Mapped[bool] = mapped_column(Boolean, default=False)

    issuer: Mapped[Issuer] = relationship()


class RenderedFile(TimestampMixin, Base):
    """A cached rendering of an award (``kind``: ``certificate.pdf`` or ``preview.png``).

    ``fingerprint`` is a hash of everything the content depends on (names, dates, status, layout,
    language, signing certificate); a rendering whose fingerprint no longer matches is stale and is
    made again, so a name correction or a revocation never serves an old file.
    """

    __tablename__ = "rendered_file"
    __table_args__ = (UniqueConstraint("assertion_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assertion_id: Mapped[int] = mapped_column(ForeignKey("assertion.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    fingerprint: Mapped[str] = mapped_column(String(64))
    media_type: Mapped[str] = mapped_column(String(64))
    data: Mapped[bytes] = mapped_column(LargeBinary)

    assertion: Mapped[Assertion] = relationship()
