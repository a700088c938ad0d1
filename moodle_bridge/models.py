"""The sync's own tables: a checkpoint per (Moodle site connector, course) and the completions seen.

Both belong to :mod:`moodle_bridge`; the hub's tables are only written through hub services.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, PublicIdMixin, UTCDateTime, utcnow

RUNNING = "running"
DONE = "done"
# A sync run (MoodleSyncRun.status): queued -> running -> done | stopped | failed.
QUEUED, STOPPED, FAILED = "queued", "stopped", "failed"
RUN_STATUSES = (QUEUED, RUNNING, DONE, STOPPED, FAILED)


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


class MoodleSyncRun(PublicIdMixin, Base):
    """One "Sync now" started from the console or the API, run as a background job.

    ``status`` is ``queued`` -> ``running`` -> ``done`` | ``stopped`` (a stop was requested; the next
    run resumes where it stopped) | ``failed`` (``error`` and ``error_slug``: the typed hub error, e.g.
    ``moodle-invalid-token``). ``heartbeat_at`` moves after every committed page, so a run whose process
    died is recognised as abandoned. ``courses_total``/``courses_done`` drive the progress bar;
    ``users_seen`` and ``submitted`` (new completions handed to the inbox) are running totals;
    ``report`` is the per-course :class:`moodle_bridge.sync.CourseReport` list when it ends.
    """

    __tablename__ = "moodle_sync_run"

    connector_id: Mapped[int] = mapped_column(ForeignKey("connector.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    started_by: Mapped[str] = mapped_column(String(320))
    stop_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    courses_total: Mapped[int] = mapped_column(Integer, default=0)
    courses_done: Mapped[int] = mapped_column(Integer, default=0)
    users_seen: Mapped[int] = mapped_column(Integer, default=0)
    submitted: Mapped[int] = mapped_column(Integer, default=0)
    report: Mapped[list] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    error_slug: Mapped[str | None] = mapped_column(String(64))
