"""Tables of development paths: :class:`Path`, its :class:`PathStep` rows and "N of these M"
:class:`PathGroup` rows, and :class:`PathCompletion`, one per learner who completed a path."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.badges.models import BadgeClass
from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime


class Path(PublicIdMixin, TimestampMixin, Base):
    """A development path of an issuer (Badgr/Canvas Credentials "pathway"; the EU micro-credential
    Recommendation's "integration / stackability options").

    ``ordered``: the steps are meant to be taken in ``position`` order (the learner's "next" is the
    first one not done); an unordered path suggests every missing step. ``completion_badge`` is the
    issuer's own badge class awarded when the path is complete. ``accept_other_issuers``: the issuer
    accepts other issuers' badge classes (and, once collected, verified imported badges) as steps.
    """

    __tablename__ = "path"

    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    ordered: Mapped[bool] = mapped_column(Boolean, default=False)
    accept_other_issuers: Mapped[bool] = mapped_column(Boolean, default=False)
    completion_badge_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id", ondelete="RESTRICT"), index=True)

    completion_badge: Mapped[BadgeClass] = relationship()
    steps: Mapped[list[PathStep]] = relationship(
        back_populates="path", order_by="PathStep.position", cascade="all, delete-orphan"
    )
    groups: Mapped[list[PathGroup]] = relationship(
        back_populates="path", order_by="PathGroup.id", cascade="all, delete-orphan"
    )


class PathGroup(Base):
    """An "N of these M" group: the path needs ``need`` of the steps in it."""

    __tablename__ = "path_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    path_id: Mapped[int] = mapped_column(ForeignKey("path.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    need: Mapped[int] = mapped_column(Integer, default=1)

    path: Mapped[Path] = relationship(back_populates="groups")
    steps: Mapped[list[PathStep]] = relationship(back_populates="group", order_by="PathStep.position")


class PathStep(Base):
    """One step: a badge class (``badge_class_id``; None once that badge class was deleted, the step
    then says so by its kept ``badge_name``), ``required`` or optional, or one of a group."""

    __tablename__ = "path_step"
    __table_args__ = (UniqueConstraint("path_id", "badge_class_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    path_id: Mapped[int] = mapped_column(ForeignKey("path.id", ondelete="CASCADE"), index=True)
    badge_class_id: Mapped[int | None] = mapped_column(ForeignKey("badge_class.id", ondelete="SET NULL"), index=True)
    badge_name: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer, default=0)
    required: Mapped[bool] = mapped_column(Boolean, default=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("path_group.id", ondelete="SET NULL"))

    path: Mapped[Path] = relationship(back_populates="steps")
    group: Mapped[PathGroup | None] = relationship(back_populates="steps")
    badge_class: Mapped[BadgeClass | None] = relationship()


class PathCompletion(TimestampMixin, Base):
    """A learner (``recipient``: the normalised e-mail the awards name) completed ``path``: the dedup
    key of the completion badge (unique per path and learner), ``assertion_id`` the completion badge's
    award. ``attention``: why an administrator should look (a step badge was revoked after the
    completion), cleared by their decision (:func:`hub.operations.paths.resolve_completion`)."""

    __tablename__ = "path_completion"
    __table_args__ = (UniqueConstraint("path_id", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    path_id: Mapped[int] = mapped_column(ForeignKey("path.id", ondelete="CASCADE"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    assertion_id: Mapped[int | None] = mapped_column(ForeignKey("assertion.id", ondelete="SET NULL"))
    attention: Mapped[str | None] = mapped_column(Text)
    attention_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    path: Mapped[Path] = relationship()
