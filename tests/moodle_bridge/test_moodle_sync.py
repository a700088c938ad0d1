"""The completion sync against the contract double and a real SQLite hub database.

``submit`` is injected (the hub's ``submit_learning_event`` contract): it stores an ``InboundEvent``
per (connector, idempotency key) in the same session, so a crash rolls it back like the real one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from hub.db import utcnow
from hub.errors import ConfigurationError
from hub.inbox.models import InboundEvent
from moodle_bridge import errors
from moodle_bridge.models import DONE, RUNNING, MoodleSyncState
from moodle_bridge.sync import sync_connector


class FakeInbox:
    """Stands in for ``hub.inbox.services.submit_learning_event``; can die after ``crash_after`` calls."""

    def __init__(self, crash_after: int | None = None):
        self.crash_after = crash_after
        self.calls = 0
        self.events = []

    def __call__(self, session, ctx, connector, event):
        self.calls += 1
        if self.crash_after is not None and self.calls > self.crash_after:
            raise RuntimeError("worker killed half-way")
        self.events.append(event)
        existing = session.scalar(
            select(InboundEvent).where(
                InboundEvent.connector_id == connector.id, InboundEvent.external_id == event.idempotency_key
            )
        )
        if existing is not None:
            return existing, False
        row = InboundEvent(
            connector_id=connector.id,
            external_id=event.idempotency_key,
            received_at=utcnow(),
            body=json.dumps(event.data),
        )
        session.add(row)
        session.flush()
        return row, True


def stored_keys(ctx) -> list[str]:
    with ctx.db.session_scope() as s:
        return list(s.scalars(select(InboundEvent.external_id).order_by(InboundEvent.id)))


def test_sync_submits_the_recorded_completion(fake, client, hub_ctx, make_connector):
    fake.proficient.add((4, 1))
    make_connector(fake.site_url, course_ids=[2])
    inbox = FakeInbox()
    report = sync_connector(hub_ctx, "moodle-main", client=client, submit=inbox)

    assert report.submitted == 1 and report.courses[0].finished
    (event,) = inbox.events
    assert event.idempotency_key == f"moodle:{fake.site_url}:course:2:user:4"
    assert event.event_type == "course_completed" and event.key == "SEC-101"
    assert event.connector == "moodle-main"
    assert event.recipient.email == "Lukasz.Wojcik@Example.org"  # as Moodle stores it; the hub normalises
    assert (event.recipient.platform_user_id, event.recipient.platform) == ("4", fake.site_url)
    assert event.recipient.name == "Łukasz Wójcik" and event.recipient.sourced_id == "S-001"
    assert event.outcomes == ("esco:0d6f1a2e-skill-test-1",)
    assert event.occurred_at is None  # Moodle's WS gives no course completion time here
    # the teacher is filtered out by capability, so never asked about
    assert fake.count("core_completion_get_course_completion_status", userid=3) == 0
    assert stored_keys(hub_ctx) == [event.idempotency_key]


def test_second_run_only_asks_about_the_unfinished(fake, client, hub_ctx, make_connector):
    make_connector(fake.site_url, course_ids=[2], competencies=False)
    sync_connector(hub_ctx, "moodle-main", client=client, submit=FakeInbox())
    fake.calls.clear()
    fake.completed[(2, 5)] = 1795940000  # Zofia completes between runs (through the criterion)

    inbox = FakeInbox()
    report = sync_connector(hub_ctx, "moodle-main", client=client, submit=inbox)
    assert report.submitted == 1
    assert inbox.events[0].recipient.platform_user_id == "5"
    assert inbox.events[0].occurred_at == datetime.fromtimestamp(1795940000, UTC)
    assert fake.count("core_completion_get_course_completion_status", userid=4) == 0
    assert fake.count("core_competency_list_course_competencies") == 0


def test_course_idnumbers_and_unknown_idnumber(fake, client, hub_ctx, make_connector):
    make_connector(fake.site_url, course_idnumbers=["SEC-101"])
    assert sync_connector(hub_ctx, "moodle-main", client=client, submit=FakeInbox()).submitted == 1
    make_connector(fake.site_url, slug="other", course_idnumbers=["NOPE"])
    with pytest.raises(ConfigurationError):
        sync_connector(hub_ctx, "other", client=client, submit=FakeInbox())


def test_course_without_criteria_is_skipped(fake, client, hub_ctx, make_connector):
    fake.no_criteria.add(2)
    make_connector(fake.site_url, course_ids=[2])
    report = sync_connector(hub_ctx, "moodle-main", client=client, submit=FakeInbox())
    assert report.courses[0].skipped_reason == "no completion criteria" and report.submitted == 0


def test_bad_token_stops_the_sync_with_a_typed_error(fake, hub_ctx, make_connector):
    make_connector(fake.site_url, course_ids=[2], token="wrong")
    with pytest.raises(errors.MoodleInvalidToken):
        sync_connector(hub_ctx, "moodle-main", submit=FakeInbox())  # client built from the stored token


def test_thousand_users_crash_half_way_then_resume(fake, client, hub_ctx, make_connector):
    ids = fake.add_students(2, 1000)
    for uid in ids[::3]:
        fake.completed[(2, uid)] = 1795940000
    expected = 1 + len(ids[::3])  # + the recorded user 4
    make_connector(fake.site_url, course_ids=[2], page_size=100, competencies=False)

    with pytest.raises(RuntimeError):
        sync_connector(hub_ctx, "moodle-main", client=client, submit=FakeInbox(crash_after=expected // 2))
    with hub_ctx.db.session_scope() as s:
        state = s.scalar(select(MoodleSyncState))
        checkpoint, status = state.next_offset, state.status
    committed = stored_keys(hub_ctx)
    assert status == RUNNING and 0 < checkpoint < 1003
    assert 0 < len(committed) < expected  # the pages before the crash, and nothing of the page in flight

    fake.calls.clear()
    inbox = FakeInbox()
    report = sync_connector(hub_ctx, "moodle-main", client=client, submit=inbox)
    assert report.courses[0].resumed_from == checkpoint
    pages = [int(p["options"][0]["value"]) for f, p in fake.calls if f == "core_enrol_get_enrolled_users"]
    assert min(pages) == checkpoint  # committed pages are not read again
    keys = stored_keys(hub_ctx)
    assert len(keys) == len(set(keys)) == expected
    assert inbox.calls == expected - len(committed)
    with hub_ctx.db.session_scope() as s:
        assert s.scalar(select(MoodleSyncState.status)) == DONE


def test_stop_between_pages_and_resume(fake, client, hub_ctx, make_connector):
    ids = fake.add_students(2, 250)
    for uid in ids:
        fake.completed[(2, uid)] = None
    make_connector(fake.site_url, course_ids=[2], page_size=100, competencies=False)
    polls = iter([False, False, True])
    report = sync_connector(hub_ctx, "moodle-main", client=client, submit=FakeInbox(), should_stop=lambda: next(polls))
    # first two pages: tracked users 4, 5, 6, 1000..1196; 5 and 6 have not completed
    assert report.stopped and report.submitted == 198
    report = sync_connector(hub_ctx, "moodle-main", client=client, submit=FakeInbox())
    assert report.courses[0].resumed_from == 200 and not report.stopped
    with hub_ctx.db.session_scope() as s:
        assert s.scalar(select(func.count()).select_from(InboundEvent)) == 251


def test_enrolments_during_a_paused_run_do_not_double_process(fake, client, hub_ctx, make_connector):
    make_connector(fake.site_url, course_ids=[2], page_size=2, competencies=False)
    polls = iter([False, True])
    sync_connector(hub_ctx, "moodle-main", client=client, submit=FakeInbox(), should_stop=lambda: next(polls))
    # a user with a low id joins: every later offset shifts by one
    fake.add_students(2, 1, first_id=1)
    fake.completed[(2, 1)] = None
    fake.calls.clear()
    sync_connector(hub_ctx, "moodle-main", client=client, submit=FakeInbox())
    asked = [p["userid"] for f, p in fake.calls if f == "core_completion_get_course_completion_status"]
    assert len(asked) == len(set(asked))
    assert "4" not in asked  # processed before the pause
