"""The sync's own tables: a checkpoint per (Moodle site connector, course) and the completions seen.

Both belong to :mod:`moodle_bridge`; the hub's tables are only written through hub services.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime, utcnow

RUNNING = "running"
DONE = "done"


class MoodleSyncState(Base):
    """Where the sync of one course stands, so a stopped or crashed run resumes instead of restarting.

    ``next_offset`` is the ``limitfrom`` of the next ``core_enrol_get_enrolled_users`` page and
    ``last_user_id`` the highest user id committed (pages are ordered by user id, so users enrolled
    meanwhile with a lower id, which shift the offsets, are not processed twice). ``status`` is
    ``running`` until the last page is committed, then ``done``; the next run starts again at 0.
    """

    __tablename__ = "moodle_sync_state"
    __table_args__ = (UniqueConstraint("connector_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connector.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=RUNNING)
    next_offset: Mapped[int] = mapped_column(Integer, default=0)
    last_user_id: Mapped[int] = mapped_column(Integer, default=0)
    run_started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MoodleCompletion(Base):
    """A completion the sync has handed to the hub: later runs skip that learner's status call."""

    __tablename__ = "moodle_completion"
    __table_args__ = (UniqueConstraint("connector_id", "course_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connector.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    idempotency_key: Mapped[str] = mapped_column(String(512))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
