"""The one job system (:mod:`hub.jobs`): durable jobs, retries with backoff and a cap, leases, dedup,
the schedule, after-commit effects, and the runner in thread mode picking up work it did not start.
Runs on SQLite and PostgreSQL (``ctx``)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from hub import create_app, jobs
from hub.badges.models import Assertion
from hub.db import utcnow
from hub.inbox.models import InboundEvent
from hub.jobs.models import Job
from hub.jobs.runner import Runner
from hub.operations.uow import after_commit, pending_effects
from tests.conftest import completion, post_event

CALLS: list[tuple[str, dict]] = []


def _ok(ctx, run):
    CALLS.append(("ok", run.payload))
    run.progress(1, 1, "done")


def _poison(ctx, run):
    CALLS.append(("poison", run.payload))
    raise ValueError("line break in a badge name\n")


@pytest.fixture(autouse=True)
def kinds():
    CALLS.clear()
    jobs.register("test.ok", _ok)
    jobs.register("test.poison", _poison, max_attempts=3)
    yield
    jobs.KINDS.pop("test.ok", None)
    jobs.KINDS.pop("test.poison", None)


def _job(ctx, public_id: str) -> Job:
    with ctx.db.session_scope() as s:
        job = s.scalar(select(Job).where(Job.public_id == public_id))
        s.expunge(job)
        return job


def _due_now(ctx) -> None:
    """End every backoff (as if its time had passed)."""
    with ctx.db.session_scope() as s:
        s.execute(update(Job).values(run_after=utcnow() - timedelta(seconds=1)))


def test_a_job_is_stored_in_the_callers_transaction_and_runs_after_it(ctx):
    with ctx.db.session_scope() as s:
        job = jobs.enqueue(s, "test.ok", {"n": 1})
        public_id = job.public_id
    with ctx.db.session_scope() as s:  # rolled back: no job
        jobs.enqueue(s, "test.ok", {"n": 2})
        s.rollback()
    assert Runner(ctx).drain() == 0  # events processed: none; the job ran
    assert CALLS == [("ok", {"n": 1})]
    done = _job(ctx, public_id)
    assert (done.status, done.attempts, done.progress) == ("done", 1, {"done": 1, "total": 1, "message": "done"})
    assert done.finished_at is not None


def test_a_poison_job_is_retried_with_backoff_then_failed_and_never_stops_the_others(ctx):
    with ctx.db.session_scope() as s:
        poison = jobs.enqueue(s, "test.poison").public_id
        later = [jobs.enqueue(s, "test.ok", {"n": n}).public_id for n in range(3)]
    runner = Runner(ctx)
    runner.drain()
    first = _job(ctx, poison)
    assert first.status == "pending" and first.attempts == 1
    assert "ValueError: line break" in first.last_error
    assert first.run_after > utcnow()  # backing off
    assert all(_job(ctx, j).status == "done" for j in later)  # the jobs after it ran
    for _ in range(2):
        _due_now(ctx)
        runner.drain()
    failed = _job(ctx, poison)
    assert (failed.status, failed.attempts) == ("failed", 3)
    assert [c[0] for c in CALLS].count("poison") == 3
    _due_now(ctx)
    runner.drain()
    assert [c[0] for c in CALLS].count("poison") == 3  # failed for good: not run again

    with ctx.db.session_scope() as s:  # the console's and API's retry gives it a fresh budget
        jobs.retry(s, s.scalar(select(Job).where(Job.public_id == poison)))
    runner.drain()
    assert _job(ctx, poison).attempts == 1


def test_backoff_grows_and_is_capped():
    waits = [jobs.backoff(n) for n in range(1, 20)]
    assert waits[0] < waits[3] < waits[6]
    assert max(waits) <= jobs.BACKOFF_CAP * 1.25


def test_a_job_abandoned_by_a_dead_process_is_claimed_again(ctx):
    with ctx.db.session_scope() as s:
        public_id = jobs.enqueue(s, "test.ok").public_id
    with ctx.db.session_scope() as s:  # a runner claimed it, then was killed (no heartbeat since)
        s.execute(update(Job).values(status="running", attempts=1, heartbeat_at=utcnow() - timedelta(minutes=5)))
    Runner(ctx).drain()
    job = _job(ctx, public_id)
    assert (job.status, job.attempts) == ("done", 2)


def test_a_running_job_with_a_fresh_heartbeat_is_left_to_its_runner(ctx):
    with ctx.db.session_scope() as s:
        public_id = jobs.enqueue(s, "test.ok").public_id
    with ctx.db.session_scope() as s:
        s.execute(update(Job).values(status="running", attempts=1, heartbeat_at=utcnow()))
    Runner(ctx).drain()
    assert _job(ctx, public_id).status == "running" and CALLS == []


def test_dedup_key_enqueues_once(ctx):
    with ctx.db.session_scope() as s:
        assert jobs.enqueue(s, "test.ok", dedup_key="k") is not None
        assert jobs.enqueue(s, "test.ok", dedup_key="k") is None
    with ctx.db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Job)) == 1


def test_the_schedule_enqueues_one_job_per_target_and_slot(ctx):
    def targets(session, ctx_):
        yield "site-1", {"site": 1}, None, 3600
        yield "off", {"site": 2}, None, 0  # switched off

    jobs.register("test.scheduled", _ok, schedule=jobs.Schedule(targets))
    try:
        assert jobs.schedule_due(ctx) == 1
        assert jobs.schedule_due(ctx) == 0  # a second runner looking in the same slot adds nothing
        with ctx.db.session_scope() as s:
            (job,) = s.scalars(select(Job).where(Job.kind == "test.scheduled"))
            assert job.payload == {"site": 1} and job.dedup_key.startswith("test.scheduled:site-1:")
    finally:
        jobs.KINDS.pop("test.scheduled")


def test_after_commit_effects_run_only_after_the_outermost_commit(ctx):
    ran: list[str] = []
    with ctx.db.session_scope() as s:
        with s.begin_nested():
            after_commit(s, ran.append, "inner")
        assert ran == []  # a released savepoint is not a commit
        try:
            with s.begin_nested():
                after_commit(s, ran.append, "rolled-back savepoint")
                raise RuntimeError
        except RuntimeError:
            pass
        after_commit(s, ran.append, "outer")
        after_commit(s, ran.append, "outer")  # registered twice: runs once
        assert pending_effects(s) == 3
    assert ran == ["inner", "rolled-back savepoint", "outer"]
    with ctx.db.session_scope() as s:
        after_commit(s, ran.append, "never")
        s.rollback()
    assert ran[-1] == "outer"


def test_thread_mode_picks_up_events_stored_by_another_process_while_it_runs(settings, factory):
    """What ``badgehub moodle sync`` from cron, or a worker-mode process, leaves: the web process's
    runner finds it on its next pass, not at its next start."""
    serving = create_app(settings.with_(job_mode="thread", worker_poll_seconds=0.05))
    ctx = serving.extensions["hub"]
    factory.__class__(ctx).setup()
    runner = serving.extensions["hub.jobs"]
    runner.start()
    try:
        other = create_app(settings.with_(job_mode="worker"))  # stores, processes nothing
        assert post_event(other.test_client(), completion()).status_code == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with ctx.db.session_scope() as s:
                if s.scalar(select(InboundEvent.status)) == "processed":
                    break
            threading.Event().wait(0.05)
        with ctx.db.session_scope() as s:
            assert s.scalar(select(InboundEvent.status)) == "processed"
            assert s.scalar(select(func.count()).select_from(Assertion)) == 1
        other.extensions["hub"].db.dispose()
    finally:
        runner.stop()
        ctx.db.dispose()


def test_claims_whose_answer_an_outage_lost_are_taken_back_by_their_runner(ctx, factory):
    """A claim can commit while its answer is lost (the connection reset by an outage): no process
    knows it holds the rows. Every claim names its runner thread, which takes its own claims back on
    the first pass after the database returns, not after HUB_STALE_PROCESSING_SECONDS."""
    from hub.learners.models import Notification

    factory.setup()
    with ctx.db.session_scope() as s:
        job_id = jobs.enqueue(s, "test.ok", {"n": 9}).public_id
    other = create_app(ctx.settings.with_(job_mode="worker"))
    assert post_event(other.test_client(), completion()).status_code == 202
    other.extensions["hub"].db.dispose()
    runner = Runner(ctx)
    owner = runner._owner()
    with ctx.db.session_scope() as s:  # what the lost claims left: rows claimed under this runner's token
        s.execute(update(InboundEvent).values(status="processing", claimed_at=utcnow(), claimed_by=owner))
        s.execute(update(Job).values(status="running", heartbeat_at=utcnow(), attempts=1, claimed_by=owner))
    runner.run_pass(schedule=False)
    with ctx.db.session_scope() as s:  # not interrupted: fresh claims of a live runner are left alone
        assert s.scalar(select(InboundEvent.status)) == "processing"
    runner._local.interrupted = True  # the loop sets this when a pass meets a database error
    runner.drain()
    with ctx.db.session_scope() as s:
        assert s.scalar(select(InboundEvent.status)) == "processed"
        assert s.scalar(select(func.count()).select_from(Assertion)) == 1
        assert [n.status for n in s.scalars(select(Notification))] == ["sent"]
    assert _job(ctx, job_id).status == "done"
