"""Award rules: which badge class a (connector, event type, key, condition) earns."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.badges.models import BadgeClass
from hub.connections.models import ConnectorConfig
from hub.db import Base, PublicIdMixin, TimestampMixin


class AwardRule(PublicIdMixin, TimestampMixin, Base):
    """Awards ``badge_class`` for events of ``connector`` with ``event_type`` and ``key``.

    ``key`` None matches every key; ``condition`` is an optional JMESPath expression evaluated on the
    event payload, true when its result is truthy (e.g. ``place <= `3```). See https://jmespath.org/.
    """

    __tablename__ = "award_rule"

    connector_id: Mapped[int] = mapped_column(ForeignKey("connector.id", ondelete="CASCADE"), index=True)
    event_type: Mapped[str] = mapped_column(String(128))
    key: Mapped[str | None] = mapped_column(String(255))
    condition: Mapped[str | None] = mapped_column(Text)
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    connector: Mapped[ConnectorConfig] = relationship()
    badge_class: Mapped[BadgeClass] = relationship()
