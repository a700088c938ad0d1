"""The durable inbox: every accepted platform event is a row before it is acknowledged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.connections.models import ConnectorConfig
from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime
from hub.i18n import load_text

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
    ``{"at", "status", "reason"}`` entries, one per processing attempt. ``reason`` is English (for the API,
    logs and grep); an entry whose reason the hub wrote also keeps it as ``message``
    (:func:`hub.i18n.dump_text`), so the console shows it in the reader's language (:attr:`reason_text`).
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
    # The runner thread holding the claim (a random token per thread): after a database outage it takes
    # back its own claims, even one whose answer the outage lost (hub.jobs.runner).
    claimed_by: Mapped[str | None] = mapped_column(String(36))
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    history: Mapped[list] = mapped_column(JSON, default=list)

    connector: Mapped[ConnectorConfig] = relationship()

    @property
    def reason_text(self):
        """``reason`` for people: in the current language when the hub wrote it as a translatable message
        (see :func:`history_text`), else as stored."""
        last = (self.history or [])[-1:]
        if self.reason and last and last[0].get("reason") == self.reason:
            return history_text(last[0])
        return self.reason


def history_text(entry: dict):
    """The reason of one ``history`` entry for people (a lazy text when stored as a message)."""
    return load_text(entry["message"]) if entry.get("message") else entry.get("reason")
