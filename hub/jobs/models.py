"""The job table: one durable row per piece of background work that is not an inbox event or an e-mail
(those two have their own durable rows, :class:`hub.inbox.models.InboundEvent` and
:class:`hub.learners.models.Notification`, which the same runner drains; see :mod:`hub.jobs`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATUSES = (PENDING, RUNNING, DONE, FAILED)


class Job(PublicIdMixin, TimestampMixin, Base):
    """A job: ``kind`` names its handler (:func:`hub.jobs.register`), ``payload`` its JSON arguments.

    ``status`` moves pending -> running -> done | failed, and back to pending for a retry (``run_after``
    is then the backoff's end). ``attempts`` counts starts; after ``max_attempts`` failed starts the job
    is ``failed`` with ``last_error``. A running job whose ``heartbeat_at`` is older than the lease
    (``HUB_JOB_LEASE_SECONDS``) was abandoned (its process died) and is claimed again: handlers are
    written to resume without repeating their effects. ``progress`` is the handler's own
    ``{"done", "total", "message"}``. ``dedup_key`` (unique) makes enqueueing idempotent, e.g. one
    scheduled Moodle sync per site and time slot whichever process schedules it. ``issuer_id`` scopes
    the job in the console and the API.
    """

    __tablename__ = "job"
    __table_args__ = (Index("ix_job_status_run_after", "status", "run_after"),)

    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(36))  # as InboundEvent.claimed_by
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[dict] = mapped_column(JSON, default=dict)
    dedup_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    issuer_id: Mapped[int | None] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), index=True)
