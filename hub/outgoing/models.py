"""Tables of outgoing webhooks: :class:`WebhookSubscription` (an issuer's endpoint) and
:class:`WebhookDelivery`, the durable outbox row of one event for one subscription."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.badges.models import Issuer
from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime

#: The event types a subscription may choose (``type`` of each delivered body).
EVENT_TYPES = ("award.issued", "award.revoked", "award.expired", "path.completed", "event.failed")
PENDING, SENDING, DELIVERED, FAILED = "pending", "sending", "delivered", "failed"
STATUSES = (PENDING, SENDING, DELIVERED, FAILED)


class WebhookSubscription(PublicIdMixin, TimestampMixin, Base):
    """An issuer's subscription: ``url`` receives the ``events`` it chose, signed with its ``whsec_``
    secret (Standard Webhooks), kept encrypted with ``HUB_KEY_ENCRYPTION_KEY`` as connector secrets
    are (``secret_encrypted``, a Fernet token). ``active`` False: switched off, by an administrator
    or after a delivery failed for the whole retry window (``disabled_reason``); its deliveries wait."""

    __tablename__ = "webhook_subscription"

    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str | None] = mapped_column(String(255))
    events: Mapped[list] = mapped_column(JSON, default=list)
    secret_encrypted: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)

    issuer: Mapped[Issuer] = relationship()


class WebhookDelivery(PublicIdMixin, Base):
    """One event for one subscription, written in the transaction of what it tells (the award, the
    revocation, ...). ``public_id`` is the ``webhook-id`` header (the same on every attempt, so a
    receiver deduplicates). ``order_key`` (the award's public id) orders deliveries: one is not sent
    while an earlier one with the same key for the same subscription is still pending.

    ``status``: pending → sending → delivered, or back to pending with ``next_attempt_at`` after a
    failure (exponential backoff) until the retry window (``HUB_WEBHOOK_RETRY_HOURS``) ends: failed.
    ``dedup_key`` (unique) keeps an event from being written twice (``award.expired`` scans).
    """

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_status_next", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_order", "subscription_id", "order_key", "id"),
    )

    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    order_key: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(36))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dedup_key: Mapped[str | None] = mapped_column(String(255), unique=True)

    subscription: Mapped[WebhookSubscription] = relationship()
