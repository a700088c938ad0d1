"""The durable inbox: every accepted platform event is a row before it is acknowledged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.connections.models import ConnectorConfig
from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime

PENDING = "pending"
PROCESSING = "processing"
PROCESSED = "processed"
FAILED = "failed"
STATUSES = (PENDING, PROCESSING, PROCESSED, FAILED)


class InboundEvent(PublicIdMixin, TimestampMixin, Base):
    """A stored event from a connector, unique on (connector, external id).

    ``external_id`` is the sender's id (``webhook-id`` for webhooks), so a redelivery is recognised.
    ``body`` is the raw, verified request body (UTF-8 text). ``status`` moves
    pending -> processing -> processed | failed; ``reason`` says why it failed; ``history`` is a list of
    ``{"at", "status", "reason"}`` entries, one per processing attempt.
    """

    __tablename__ = "inbound_event"
    __table_args__ = (
        UniqueConstraint("connector_id", "external_id"),
        Index("ix_inbound_event_status_received", "status", "received_at"),
    )

    connector_id: Mapped[int] = mapped_column(ForeignKey("connector.id", ondelete="RESTRICT"))
    external_id: Mapped[str] = mapped_column(String(255))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    body: Mapped[str] = mapped_column(Text)
    # "raw": the verified body as the sender sent it, normalised by the connector at processing;
    # "learning_event": a LearningEvent already normalised by a pull connector (Moodle sync).
    body_format: Mapped[str] = mapped_column(String(16), default="raw")
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    history: Mapped[list] = mapped_column(JSON, default=list)

    connector: Mapped[ConnectorConfig] = relationship()
