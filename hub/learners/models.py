"""Learner tables. A learner is whoever proved control of an e-mail address (a claim or login link);
their badges are the assertions issued to any of their verified addresses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.badges.models import Assertion
from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime


class Learner(PublicIdMixin, TimestampMixin, Base):
    """A learner account. ``display_name`` is the name printed on certificates (falls back to the name
    the platform sent); ``show_name`` lets public pages show it; ``allow_indexing`` lets search engines
    index the public pages (``noindex`` otherwise); ``locale`` is ``pl`` or ``en``."""

    __tablename__ = "learner"

    display_name: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(8))
    show_name: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_indexing: Mapped[bool] = mapped_column(Boolean, default=False)

    emails: Mapped[list[LearnerEmail]] = relationship(back_populates="learner", cascade="all, delete-orphan")


class LearnerEmail(TimestampMixin, Base):
    """A verified e-mail address of a learner (normalised as the award service normalises it)."""

    __tablename__ = "learner_email"

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learner.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    verified_at: Mapped[datetime] = mapped_column(UTCDateTime)

    learner: Mapped[Learner] = relationship(back_populates="emails")


class LearnerBadge(Base):
    """The learner's choice for one of their awards: ``public`` (listed in the portfolio, certificate
    downloadable from the public page) and ``position`` (portfolio order, ascending)."""

    __tablename__ = "learner_badge"
    __table_args__ = (UniqueConstraint("assertion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learner.id", ondelete="CASCADE"), index=True)
    assertion_id: Mapped[int] = mapped_column(ForeignKey("assertion.id", ondelete="CASCADE"))
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)

    assertion: Mapped[Assertion] = relationship()


class LinkToken(Base):
    """One single-use link (claim or login). The URL carries ``jti`` signed by itsdangerous; this row
    makes it single-use (``used_at``) and bounds its life (``expires_at``) independently of the
    signature's own timestamp."""

    __tablename__ = "link_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16))  # "claim" | "login"
    email: Mapped[str] = mapped_column(String(320))
    assertion_id: Mapped[int | None] = mapped_column(ForeignKey("assertion.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notification(Base):
    """Outbox row: an e-mail to send about an award, written in the award's transaction and sent after
    the commit (so no mail goes out for an award that was rolled back, and none is lost if the process
    stops between commit and send: the worker sends what is still ``pending``).

    ``kind`` is ``award`` (the one e-mail of a new award; unique per award) or ``resend`` (an
    administrator sent it again, :func:`hub.learners.notifications.resend_award`; several per award) or
    ``backpack`` (the verification state of an imported badge changed, :mod:`hub.backpack.services`;
    ``imported_badge_id`` set, ``assertion_id`` None)."""

    __tablename__ = "notification"
    __table_args__ = (
        Index(
            "uq_notification_award_once",
            "assertion_id",
            unique=True,
            sqlite_where=text("kind = 'award'"),
            postgresql_where=text("kind = 'award'"),
        ),
        Index("ix_notification_assertion_id_created_at", "assertion_id", "created_at"),
        # The sender's claim: pending rows in id order (hub.learners.notifications._claim_rows).
        Index("ix_notification_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="award")
    assertion_id: Mapped[int | None] = mapped_column(ForeignKey("assertion.id", ondelete="CASCADE"))
    imported_badge_id: Mapped[int | None] = mapped_column(ForeignKey("imported_badge.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(36))  # as InboundEvent.claimed_by
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    assertion: Mapped[Assertion] = relationship()
