"""Every way of awarding goes through the one award operation (:func:`hub.operations.awards.award`):
each path writes the same audit entry and sends the same award e-mail once, and the same rules hold
(the evidence rule, the badge class of another issuer). The LTI paths are tested with the LTI tool
(tests/connectors/lti), Moodle's with the Moodle sites (tests/moodle_bridge/console). SQLite and
PostgreSQL (the ``world`` fixture)."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from hub.accounts.models import AuditEntry
from hub.badges.models import Assertion
from hub.connections.models import ConnectorConfig
from hub.inbox.models import InboundEvent
from hub.learners.mail import mailer_for
from hub.learners.models import Notification
from tests.conftest import completion, post_event
from tests.hub.web.conftest import post_form, sign_in

ADMIN = {"Authorization": "Bearer admin-token"}


@pytest.fixture
def outbox(ctx):
    sent = mailer_for(ctx.settings).sent
    sent.clear()
    return sent


def _trail(ctx, email: str) -> tuple[AuditEntry, list[Notification]]:
    """The award to ``email``: its one ``assertion.create`` audit entry and its e-mails."""
    with ctx.db.session_scope() as s:
        (award,) = s.scalars(select(Assertion).where(Assertion.recipient_plain == email))
        (entry,) = s.scalars(
            select(AuditEntry).where(AuditEntry.action == "assertion.create", AuditEntry.object_id == award.public_id)
        )
        mails = list(s.scalars(select(Notification).where(Notification.assertion_id == award.id)))
        s.expunge_all()
        return entry, mails


def _sent_once(outbox, email: str) -> None:
    assert [m.to for m in outbox].count(email) == 1
    (mail,) = [m for m in outbox if m.to == email]
    assert mail.message_id and mail.message_id.startswith("<notification-")


def test_webhook_event(client, ctx, world, outbox):
    assert post_event(client, completion(email="hook@example.org", user_id=91), slug="lms-a").status_code == 202
    entry, mails = _trail(ctx, "hook@example.org")
    assert (entry.actor, entry.via, entry.actor_id) == ("connector:lms-a", "webhooks", None)
    assert entry.after["notify"] is True and entry.after["source"].startswith("moodle:")
    assert [(m.kind, m.status) for m in mails] == [("award", "sent")]
    _sent_once(outbox, "hook@example.org")


def test_console_form(client, ctx, world, outbox):
    sign_in(client, "staff-a@example.org")
    badge = _badge(ctx, world)
    r = post_form(
        client, "/admin/awards", {"badge_class": badge, "email": "form@example.org", "name": "Ala", "notify": "on"}
    )
    assert r.status_code == 302
    entry, mails = _trail(ctx, "form@example.org")
    assert (entry.actor, entry.via) == ("staff-a@example.org", "console")
    assert [(m.kind, m.status) for m in mails] == [("award", "sent")]
    _sent_once(outbox, "form@example.org")


def _badge(ctx, world, which="a") -> str:
    from hub.badges.models import BadgeClass

    with ctx.db.session_scope() as s:
        return s.get(BadgeClass, world[which]["badge_id"]).public_id


def test_api_one_and_many(client, ctx, world, outbox):
    badge = _badge(ctx, world)
    r = client.post("/api/v1/awards", headers=ADMIN, json={"badge_class": badge, "email": "api@example.org"})
    assert r.status_code == 201, r.get_json()
    r = client.post(
        "/api/v1/awards/batch",
        headers=ADMIN,
        json={"awards": [{"badge_class": badge, "email": f"batch{i}@example.org"} for i in range(3)]},
    )
    assert r.status_code == 200, r.get_json()
    for email in ["api@example.org"] + [f"batch{i}@example.org" for i in range(3)]:
        entry, mails = _trail(ctx, email)
        assert (entry.actor, entry.via) == ("HUB_ADMIN_TOKEN", "api")
        assert [(m.kind, m.status) for m in mails] == [("award", "sent")]
        _sent_once(outbox, email)
    again = client.post("/api/v1/awards", headers=ADMIN, json={"badge_class": badge, "email": "api@example.org"})
    assert again.status_code == 200  # idempotent: no second audit entry, no second e-mail
    _trail(ctx, "api@example.org")
    _sent_once(outbox, "api@example.org")


def test_bulk_csv_is_a_job(client, ctx, world, outbox):
    from hub.jobs.models import Job

    sign_in(client, "staff-a@example.org")
    data = "email,name,badge\nbulk1@example.org,B1,Zażółć gęślą jaźń\nbulk2@example.org,B2,Zażółć gęślą jaźń\n"
    r = post_form(
        client,
        "/admin/bulk",
        {"issuer": world["a"]["issuer_pid"], "file": (io.BytesIO(data.encode()), "two.csv")},
        content_type="multipart/form-data",
    )
    job_id = r.headers["Location"].rsplit("/", 1)[1]
    post_form(client, f"/admin/bulk/{job_id}/start", {"notify": "on"})
    with ctx.db.session_scope() as s:
        (job,) = s.scalars(select(Job).where(Job.kind == "bulk.award"))
        assert (job.status, job.attempts, job.payload.keys() == {"bulk_job"}) == ("done", 1, True)
        assert job.progress["done"] == job.progress["total"] == 2
    for email in ("bulk1@example.org", "bulk2@example.org"):
        entry, mails = _trail(ctx, email)
        assert (entry.actor, entry.via) == ("staff-a@example.org", "console")
        assert [(m.kind, m.status) for m in mails] == [("award", "sent")]
        _sent_once(outbox, email)


def test_javascript_evidence_is_refused_on_every_path(client, ctx, world, factory):
    badge = _badge(ctx, world)
    r = client.post(
        "/api/v1/awards",
        headers=ADMIN,
        json={"badge_class": badge, "email": "x@example.org", "evidence_url": "javascript:alert(document.domain)"},
    )
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    # A webhook whose mapping reads an evidence URL: the event is stored, then fails with the reason.
    with ctx.db.session_scope() as s:
        row = s.scalar(select(ConnectorConfig).where(ConnectorConfig.slug == "lms-a"))
        row.config = {**row.config, "mapping": {**row.config["mapping"], "evidence_url": "evidence"}}
    payload = completion(email="js@example.org", user_id=77, evidence="javascript:alert(document.domain)")
    assert post_event(client, payload, slug="lms-a").status_code == 202
    with ctx.db.session_scope() as s:
        event = s.scalars(select(InboundEvent).order_by(InboundEvent.id.desc())).first()
        assert event.status == "failed" and "http(s)" in event.reason
        assert s.scalar(select(Assertion).where(Assertion.recipient_plain == "js@example.org")) is None


def test_a_connector_never_awards_another_issuers_badge(client, ctx, world):
    """A rule of issuer A's connector pointing at issuer B's badge class (made before the check existed,
    or by hand in the database) earns nothing: the event fails, nothing is issued."""
    from hub.rules.models import AwardRule

    with ctx.db.session_scope() as s:
        connector = s.scalar(select(ConnectorConfig).where(ConnectorConfig.slug == "lms-a"))
        rule = s.scalar(select(AwardRule).where(AwardRule.connector_id == connector.id))
        rule.badge_class_id = world["b"]["badge_id"]
    assert post_event(client, completion(email="cross@example.org", user_id=55), slug="lms-a").status_code == 202
    with ctx.db.session_scope() as s:
        event = s.scalars(select(InboundEvent).order_by(InboundEvent.id.desc())).first()
        assert event.status == "failed" and "no such badge" in event.reason
        assert s.scalar(select(Assertion).where(Assertion.recipient_plain == "cross@example.org")) is None


def test_an_event_whose_condition_is_false_is_processed_not_failed(ctx, factory, client):
    factory.setup(condition="data.place <= `3`", slug="results")
    fifth, second = completion(email="fifth@example.org", user_id=5), completion(email="second@example.org", user_id=2)
    fifth["data"]["place"], second["data"]["place"] = 5, 2
    assert post_event(client, fifth, slug="results").status_code == 202
    assert post_event(client, second, slug="results").status_code == 202
    with ctx.db.session_scope() as s:
        events = {e.body.count("fifth"): e for e in s.scalars(select(InboundEvent))}
        assert events[1].status == "processed"
        assert events[1].reason == "no badge earned: condition `data.place <= `3`` is false"
        assert [a.recipient_plain for a in s.scalars(select(Assertion))] == ["second@example.org"]


def test_an_lti_registration_without_an_issuer_awards_nothing(ctx, factory):
    """An LTI registration's completion connector is site-level until a site administrator assigns the
    registration to an issuer; until then its events earn nothing (not every issuer's badges)."""
    from connectors.types import LearningEvent, PlatformUser
    from hub.inbox.services import submit_learning_event
    from hub.jobs.runner import Runner

    info = factory.setup(slug="lti-unassigned")
    with ctx.db.session_scope() as s:
        row = s.scalar(select(ConnectorConfig).where(ConnectorConfig.slug == "lti-unassigned"))
        row.kind, row.issuer_id = "lti", None
        event = LearningEvent(
            connector="lti-unassigned",
            event_type="course_completed",
            key="ZGJ-101",
            recipient=PlatformUser(email="learner@example.org"),
            idempotency_key="lti:test:1",
        )
        submit_learning_event(s, ctx, row, event)
    Runner(ctx).drain()
    with ctx.db.session_scope() as s:
        stored = s.scalar(select(InboundEvent))
        assert stored.status == "failed" and "no such badge" in stored.reason, stored.reason
        assert s.scalar(select(Assertion).where(Assertion.badge_class_id == info["badge_id"])) is None
