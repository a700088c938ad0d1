"""The job system under faults, at small scale (``bench/faults.py`` is the full-size proof, with figures).

- a ``badgehub worker`` process killed with SIGKILL in the middle of a batch, and another started:
  every event awarded exactly once, every award e-mail sent once (counted by a real SMTP sink);
- a poison job (its handler always raises) is retried, then failed with its reason, while a later job
  runs; a poison e-mail (the mailer raises something other than a transport error) is not sent and
  does not stop the others;
- a runner that loses the database in the middle of a batch holds the batch and finishes it, under
  its own claim, once the database answers again (PostgreSQL through a refusing TCP proxy);
- in ``worker`` mode a web process never runs the job loop (``badgehub worker`` does).

Nothing here asserts timing: every wait is a bounded poll for a condition.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bench.smtpsink import SmtpSink
from bench.tcpproxy import TcpProxy
from hub import create_app, jobs
from hub.badges.models import Assertion
from hub.context import HubContext
from hub.inbox import services as inbox_services
from hub.inbox.models import InboundEvent
from hub.jobs.models import Job
from hub.jobs.runner import Runner
from hub.learners import notifications
from hub.learners.models import Notification
from tests.conftest import Factory, completion, post_event

BADGEHUB = str(Path(sys.executable).parent / "badgehub")


def poll(condition, timeout: float = 60.0, every: float = 0.02):
    """``condition()``'s first truthy value, polled until ``timeout`` seconds; fails the test after."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"condition not met within {timeout} s: {condition.__doc__ or condition}")


def count(ctx, query) -> int:
    with ctx.db.read_scope() as s:
        return s.scalar(query)


def store_events(settings, n: int):
    """A worker-mode hub with the award setup and ``n`` stored (unprocessed) events; returns its ctx."""
    app = create_app(settings.with_(job_mode="worker"))
    ctx = app.extensions["hub"]
    Factory(ctx).setup()
    client = app.test_client()
    for user in range(n):
        r = post_event(client, completion(user_id=user, email=f"learner{user}@example.org"))
        assert r.status_code == 202
    return ctx


# ---- a worker process killed with SIGKILL mid-batch ---------------------------------------------


def _worker(settings, tmp_path: Path, sink: SmtpSink) -> subprocess.Popen:
    env = {
        **os.environ,
        "HUB_DATABASE_URL": settings.database_url,
        "HUB_INSTANCE_PATH": str(tmp_path),
        "HUB_KEY_ENCRYPTION_KEY": settings.key_encryption_key,
        "HUB_SECRET_KEY": settings.secret_key,
        "HUB_BASE_URL": settings.base_url,
        "HUB_JOB_MODE": "worker",
        "HUB_MAIL_BACKEND": "smtp",
        "HUB_SMTP_URL": sink.url,
        "HUB_WORKER_THREADS": "1",  # one batch at a time: the kill lands in the one being processed
        "HUB_WORKER_POLL_MS": "50",
        "HUB_STALE_PROCESSING_SECONDS": "2",  # the dead worker's claim is taken over soon
        "HUB_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "worker.log").open("a")
    return subprocess.Popen([BADGEHUB, "worker"], env=env, stdout=log, stderr=log)


def test_worker_killed_mid_batch_awards_and_mails_each_event_once(settings, tmp_path):
    events = 60  # more than one batch (50)
    ctx = store_events(settings, events)
    with SmtpSink() as sink:
        first = _worker(settings, tmp_path, sink)
        try:

            def mid_batch():
                """the first batch is claimed and nothing of it is committed yet"""
                claimed = count(ctx, select(func.count()).where(InboundEvent.status == "processing"))
                return claimed and not count(ctx, select(func.count()).select_from(Assertion))

            poll(mid_batch, timeout=120, every=0.005)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(30)
        assert count(ctx, select(func.count()).select_from(Assertion)) == 0  # killed before its commit
        assert sink.messages == 0

        second = _worker(settings, tmp_path, sink)
        try:

            def all_sent():
                """every event processed and every award e-mail sent"""
                processed = count(ctx, select(func.count()).where(InboundEvent.status == "processed"))
                sent = count(ctx, select(func.count()).where(Notification.status == "sent"))
                return processed == events and sent == events

            poll(all_sent, timeout=180, every=0.1)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)

    with ctx.db.read_scope() as s:
        assert s.scalar(select(func.count()).select_from(Assertion)) == events
        assert s.scalar(select(func.count(func.distinct(Assertion.source_key)))) == events
        taken_over = s.scalar(select(func.count()).where(InboundEvent.attempts == 2))
    assert taken_over == 50  # the dead worker's batch, claimed again once stale
    expected = {f"learner{user}@example.org" for user in range(events)}
    assert sink.counts() == dict.fromkeys(expected, 1)  # each e-mail once, none twice
    ctx.db.dispose()


# ---- poison work ---------------------------------------------------------------------------------


def test_poison_job_is_retried_then_failed_while_later_jobs_run(settings, monkeypatch):
    app = create_app(settings.with_(job_mode="worker"))
    ctx = app.extensions["hub"]
    ran: list[str] = []

    def poison(ctx, run):
        ran.append(f"poison {run.attempts}")
        raise RuntimeError("boom")

    def fine(ctx, run):
        ran.append("fine")

    monkeypatch.setitem(jobs.KINDS, "test.poison", jobs.Kind("test.poison", poison, max_attempts=3))
    monkeypatch.setitem(jobs.KINDS, "test.fine", jobs.Kind("test.fine", fine))
    monkeypatch.setattr(jobs, "backoff", lambda attempt: 0.0)  # retry at once (the real one waits 2 s, 4 s, ...)
    with ctx.db.session_scope() as s:
        poison_id = jobs.enqueue(s, "test.poison").id
        fine_id = jobs.enqueue(s, "test.fine").id

    Runner(ctx).drain()

    with ctx.db.read_scope() as s:
        bad, good = s.get(Job, poison_id), s.get(Job, fine_id)
        assert (bad.status, bad.attempts, bad.last_error) == ("failed", 3, "RuntimeError: boom")
        assert bad.finished_at is not None
        assert good.status == "done"
    assert ran.count("fine") == 1 and [r for r in ran if r != "fine"] == ["poison 1", "poison 2", "poison 3"]
    assert ran.index("fine") < ran.index("poison 3")  # the later job did not wait for the poison one's end
    ctx.db.dispose()


class _Mailer:
    """Records what it sends; raises a non-transport error for ``poison``'s address."""

    def __init__(self, poison: str):
        self.poison, self.sent = poison, []

    def ready(self):
        pass

    def send(self, message):
        if message.to == self.poison:
            raise ValueError("Header values may not contain linefeed or carriage return characters")
        self.sent.append(message.to)


def test_poison_email_does_not_stop_the_others_which_are_sent_once(settings, monkeypatch):
    ctx = store_events(settings, 3)
    mailer = _Mailer("learner1@example.org")
    monkeypatch.setattr(notifications, "mailer_for", lambda settings: mailer)
    runner = Runner(ctx)
    runner.drain()
    runner.drain()  # nothing is sent again
    with ctx.db.read_scope() as s:
        rows = {n.assertion.recipient_plain: (n.status, n.error) for n in s.scalars(select(Notification))}
    assert sorted(mailer.sent) == ["learner0@example.org", "learner2@example.org"]
    assert rows["learner0@example.org"][0] == rows["learner2@example.org"][0] == "sent"
    assert rows["learner1@example.org"][0] in ("pending", "failed")  # retried up to the cap, never sent
    assert rows["learner1@example.org"][1].startswith("ValueError: Header values may not contain")
    ctx.db.dispose()


def test_email_sent_while_the_database_went_away_is_recorded_sent_at_the_next_pass(settings, monkeypatch):
    """The database fails between the hand-over to the mail server and the ``sent`` mark: the process
    that sent it marks it ``sent`` once the database answers, so it is neither re-sent nor later failed
    as "interrupted" (which would invite an administrator to re-send it)."""
    ctx = store_events(settings, 1)
    mailer = _Mailer("nobody")
    monkeypatch.setattr(notifications, "mailer_for", lambda settings: mailer)
    real_set, failed = notifications._set, []

    def flaky_set(ctx_, notification_id, expected, **values):
        if values.get("status") == notifications.SENT and not failed:
            failed.append(notification_id)
            raise ConnectionError("the database went away")  # as an OperationalError would
        return real_set(ctx_, notification_id, expected, **values)

    monkeypatch.setattr(notifications, "_set", flaky_set)
    Runner(ctx).drain()  # the e-mail goes out, its "sent" mark fails; the next pass records it
    notifications.deliver(ctx)  # and a later pass sends nothing again
    with ctx.db.read_scope() as s:
        assert [(n.status, n.error) for n in s.scalars(select(Notification))] == [("sent", None)]
    assert mailer.sent == ["learner0@example.org"] and len(failed) == 1
    ctx.db.dispose()


def test_email_whose_handing_mark_lost_its_answer_is_sent_once_at_the_next_pass(settings, monkeypatch):
    """The database goes away while the ``handing`` mark commits: the statement committed but its
    answer never came, so the process did not send the e-mail. Its next pass puts the row back to
    pending and sends it once, rather than leaving it for the stale sweep to fail as "interrupted"."""
    ctx = store_events(settings, 1)
    mailer = _Mailer("nobody")
    monkeypatch.setattr(notifications, "mailer_for", lambda settings: mailer)
    real_set, lost = notifications._set, []

    def answer_lost(ctx_, notification_id, expected, **values):
        done = real_set(ctx_, notification_id, expected, **values)
        if values.get("status") == notifications.HANDING and not lost:
            lost.append(notification_id)
            raise ConnectionError("the database went away before it answered")
        return done

    monkeypatch.setattr(notifications, "_set", answer_lost)
    Runner(ctx).drain()  # the mark commits, its answer is lost: nothing sent
    assert mailer.sent == [] or mailer.sent == ["learner0@example.org"]
    notifications.deliver(ctx)  # the next pass releases the row and sends it
    notifications.deliver(ctx)  # and a later one sends nothing again
    with ctx.db.read_scope() as s:
        assert [(n.status, n.error) for n in s.scalars(select(Notification))] == [("sent", None)]
    assert mailer.sent == ["learner0@example.org"] and len(lost) == 1
    ctx.db.dispose()


# ---- a database outage in the middle of a batch --------------------------------------------------


# PostgreSQL only: the outage needs a network hop to cut (the settings of ``db_url="postgresql"``).
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_runner_holds_a_batch_through_a_database_outage(settings, monkeypatch):
    pg_settings = settings.with_(job_mode="worker", worker_poll_seconds=0.05)
    events = 20
    direct = store_events(pg_settings, events)
    url = make_url(pg_settings.database_url)
    with TcpProxy((url.host or "127.0.0.1", url.port or 5432)) as proxy:
        via = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        ctx = HubContext.from_settings(pg_settings.with_(database_url=via))
        real = inbox_services.process_claimed
        claimed, cut = threading.Event(), threading.Event()

        def cut_then_process(ctx, ids):
            if not claimed.is_set():  # the batch is claimed: the test cuts the database now
                claimed.set()
                cut.wait(30)
            return real(ctx, ids)

        monkeypatch.setattr(inbox_services, "process_claimed", cut_then_process)
        runner = Runner(ctx)
        stop = threading.Event()
        loop = threading.Thread(target=runner.loop, args=(stop,), daemon=True)
        loop.start()
        try:
            poll(claimed.is_set, timeout=30)
            proxy.refuse()
            cut.set()
            held = count(direct, select(func.count()).where(InboundEvent.status == "processing"))
            assert held == events  # claimed, not processed: the outage hit the batch
            assert count(direct, select(func.count()).select_from(Assertion)) == 0
            proxy.forward()

            def processed():
                """every event processed after the database's return"""
                return count(direct, select(func.count()).where(InboundEvent.status == "processed")) == events

            # Well within the 60 s after which another runner could take the claim over.
            poll(processed, timeout=40, every=0.05)
        finally:
            stop.set()
            loop.join(30)
            ctx.db.dispose()
    with direct.db.read_scope() as s:
        assert s.scalar(select(func.count()).select_from(Assertion)) == events
        assert {e.attempts for e in s.scalars(select(InboundEvent))} == {1}  # under the first claim
        assert s.scalar(select(func.count()).where(Notification.status == "sent")) == events
    direct.db.dispose()


# ---- worker mode leaves the work to the worker ---------------------------------------------------


def test_web_process_runs_no_job_loop_in_worker_mode(settings):
    app = create_app(settings.with_(job_mode="worker"))
    runner = app.extensions["hub.jobs"]
    runner.start()  # what hub.wsgi and badgehub serve do at start, whatever the mode
    assert not [t for t in threading.enumerate() if t.name.startswith("hub-runner-")]
    thread_app = create_app(settings.with_(job_mode="thread"))
    thread_app.extensions["hub.jobs"].start()
    assert [t for t in threading.enumerate() if t.name.startswith("hub-runner-")]
    thread_app.extensions["hub.jobs"].shutdown()
    thread_app.extensions["hub"].db.dispose()
    app.extensions["hub"].db.dispose()
