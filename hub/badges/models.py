"""Open Badges 2.0 domain rows: Issuer (Profile), IssuerKey, BadgeClass (Achievement), Assertion.

Field names follow https://www.imsglobal.org/spec/ob/v2p0/ (Issuer, BadgeClass, Assertion,
CryptographicKey). Serialisation lives in :mod:`hub.credentials.ob2`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime


class Issuer(PublicIdMixin, TimestampMixin, Base):
    """An issuing organisation (OB 2.0 Issuer / OB 3.0 Profile)."""

    __tablename__ = "issuer"

    name: Mapped[str] = mapped_column(String(255))
    url: Mapped[str] = mapped_column(String(1024))
    email: Mapped[str | None] = mapped_column(String(320))
    description: Mapped[str | None] = mapped_column(Text)
    image: Mapped[bytes | None] = mapped_column(LargeBinary)
    image_type: Mapped[str | None] = mapped_column(String(32))

    keys: Mapped[list[IssuerKey]] = relationship(back_populates="issuer", order_by="IssuerKey.id")
    badge_classes: Mapped[list[BadgeClass]] = relationship(back_populates="issuer")


class IssuerKey(PublicIdMixin, TimestampMixin, Base):
    """A signing key pair. The private key is stored Fernet-encrypted (PKCS#8 PEM inside).

    ``retired_at`` is set on rotation: a retired key no longer signs, but stays published so
    assertions it signed keep verifying.
    """

    __tablename__ = "issuer_key"

    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), index=True)
    algorithm: Mapped[str] = mapped_column(String(16))  # "RS256"
    public_pem: Mapped[str] = mapped_column(Text)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    issuer: Mapped[Issuer] = relationship(back_populates="keys")


class BadgeClass(PublicIdMixin, TimestampMixin, Base):
    """An achievement that can be awarded (OB 2.0 BadgeClass / OB 3.0 Achievement).

    ``alignments`` is a list of OB 2.0 AlignmentObject dicts; ``expires_after_days`` gives assertions
    an ``expires`` that many days after ``issuedOn``; ``allow_multiple`` lets one recipient earn it more
    than once (from different source events).
    """

    __tablename__ = "badge_class"

    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text)
    image: Mapped[bytes] = mapped_column(LargeBinary)
    image_type: Mapped[str] = mapped_column(String(32))  # "image/png" | "image/svg+xml"
    criteria_url: Mapped[str | None] = mapped_column(String(1024))
    criteria_narrative: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list] = mapped_column(JSON, default=list)
    alignments: Mapped[list] = mapped_column(JSON, default=list)
    expires_after_days: Mapped[int | None] = mapped_column(Integer)
    allow_multiple: Mapped[bool] = mapped_column(Boolean, default=False)

    issuer: Mapped[Issuer] = relationship(back_populates="badge_classes")


class Assertion(PublicIdMixin, TimestampMixin, Base):
    """One award of a badge class to one recipient (OB 2.0 Assertion / OB 3.0 credential).

    ``recipient_identity`` is ``sha256$`` + hex(sha256(normalised identity + salt)); the salt is made
    once here, so every serialisation carries the same hash. ``once_key`` is set for badge classes that
    may be earned once (badge class + recipient identity) and is unique, so two events can never issue
    such a badge twice, even concurrently. ``source_key`` names the source fact (a LearningEvent's
    idempotency key, e.g. the same Moodle completion seen by push and by sync) and
    ``(badge_class_id, source_key)`` is unique, so one fact never issues the same badge twice.
    """

    __tablename__ = "assertion"
    __table_args__ = (UniqueConstraint("badge_class_id", "source_key"),)

    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id", ondelete="RESTRICT"), index=True)
    recipient_type: Mapped[str] = mapped_column(String(16), default="email")
    recipient_plain: Mapped[str | None] = mapped_column(String(320), index=True)
    recipient_identity: Mapped[str] = mapped_column(String(80))
    recipient_salt: Mapped[str] = mapped_column(String(64))
    recipient_name: Mapped[str | None] = mapped_column(String(255))
    issued_on: Mapped[datetime] = mapped_column(UTCDateTime)
    expires: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evidence: Mapped[list] = mapped_column(JSON, default=list)
    narrative: Mapped[str | None] = mapped_column(Text)
    once_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    source_key: Mapped[str | None] = mapped_column(String(255))
    source_event_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_event.id", ondelete="SET NULL"))
    signing_key_id: Mapped[int | None] = mapped_column(ForeignKey("issuer_key.id"))
    signature: Mapped[str | None] = mapped_column(Text)  # compact JWS made at award time
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    badge_class: Mapped[BadgeClass] = relationship()
    signing_key: Mapped[IssuerKey | None] = relationship()
