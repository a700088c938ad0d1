"""Configured connector instances (a webhook source, an LTI registration's hub side, a Moodle site)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base, PublicIdMixin, TimestampMixin


class ConnectorConfig(PublicIdMixin, TimestampMixin, Base):
    """One configured source of events.

    ``kind`` names a connector class in the ``badgehub.connectors`` entry-point group; ``slug`` is the
    URL segment (``/hooks/<slug>``); ``config`` is the kind's non-secret configuration (for webhooks,
    the payload mapping); ``secrets_encrypted`` is a Fernet token holding a JSON list of secrets,
    newest first (several during rotation). ``issuer_id`` names the issuer whose people manage it and see
    its events (None: a site-level connector, managed by site administrators only).
    """

    __tablename__ = "connector"

    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    config: Mapped[dict] = mapped_column(JSON, default=dict)
    secrets_encrypted: Mapped[str | None] = mapped_column(Text)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    issuer_id: Mapped[int | None] = mapped_column(ForeignKey("issuer.id", ondelete="SET NULL"), index=True)

    issuer = relationship("Issuer")
