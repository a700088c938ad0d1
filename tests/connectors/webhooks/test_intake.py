"""POST /hooks/<slug>: every bad input gets a clear problem answer, and nothing is lost."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hub.badges.models import Assertion
from hub.inbox.models import InboundEvent
from tests.conftest import COMPLETED_AT, SECRET, completion, post_event, signed_headers


def count(ctx, model) -> int:
    with ctx.db.session_scope() as s:
        return s.scalar(select(func.count()).select_from(model))


def assert_problem(resp, status: int, slug: str):
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status and body["type"].endswith(f"/problems/{slug}")
    assert body["title"] and body["detail"]
    return body


def test_signed_event_is_stored_processed_and_awarded(client, ctx, factory):
    ids = factory.setup()
    resp = post_event(client, completion())
    assert resp.status_code == 202
    assert resp.get_json()["status"] == "accepted"
    with ctx.db.session_scope() as s:
        event = s.scalar(select(InboundEvent))
        assert event.status == "processed" and event.attempts == 1
        a = s.scalar(select(Assertion))
        assert a.badge_class.public_id == ids["badge"]
        assert a.recipient_plain == "zofia.gesla@example.edu"  # trimmed + lower-cased
        assert a.recipient_name == "Zażółć Gęślą Jaźń"
        assert a.source_key == "moodle:https://moodle.example.edu:course:42:user:7"
        assert a.issued_on == COMPLETED_AT
        from hub.credentials.models import CredentialStatusEntry

        entry = s.scalar(select(CredentialStatusEntry).where(CredentialStatusEntry.assertion_id == a.id))
        assert entry is not None and entry.status_index == 0  # allocated in the award's transaction


def test_redelivery_of_same_webhook_id_changes_nothing(client, ctx, factory):
    factory.setup()
    body = json.dumps(completion())
    headers = signed_headers(body, msg_id="msg_same")
    assert client.post("/hooks/lms", data=body, headers=headers).status_code == 202
    again = client.post("/hooks/lms", data=body, headers=headers)
    assert again.status_code == 200 and again.get_json()["duplicate"] is True
    assert count(ctx, InboundEvent) == 1 and count(ctx, Assertion) == 1


def test_same_fact_from_two_deliveries_awards_once(client, ctx, factory):
    factory.setup()
    assert post_event(client, completion()).status_code == 202
    assert post_event(client, completion()).status_code == 202  # new webhook-id, same completion
    assert count(ctx, InboundEvent) == 2 and count(ctx, Assertion) == 1


def test_once_only_badge_not_issued_twice_from_different_facts(client, ctx, factory):
    factory.setup(key=None)
    post_event(client, completion(course_id=1))
    post_event(client, completion(course_id=2, email="zofia.gesla@example.edu"))
    assert count(ctx, Assertion) == 1


def test_badge_that_may_be_earned_repeatedly(client, ctx, factory):
    factory.setup(key=None, allow_multiple=True)
    post_event(client, completion(course_id=1))
    post_event(client, completion(course_id=2))
    assert count(ctx, Assertion) == 2


def test_missing_signature_headers(client, ctx, factory):
    factory.setup()
    resp = client.post("/hooks/lms", json=completion())
    body = assert_problem(resp, 401, "invalid-signature")
    assert "webhook-id" in body["detail"] and "webhook-signature" in body["detail"]
    assert count(ctx, InboundEvent) == 0


def test_wrong_signature(client, ctx, factory):
    factory.setup()
    body = json.dumps(completion())
    headers = signed_headers(body, secret="whsec_" + "QUJD" * 11)
    assert_problem(client.post("/hooks/lms", data=body, headers=headers), 401, "invalid-signature")
    assert count(ctx, InboundEvent) == 0


def test_malformed_signature(client, factory):
    factory.setup()
    body = json.dumps(completion())
    headers = {**signed_headers(body), "webhook-signature": "garbage"}
    assert_problem(client.post("/hooks/lms", data=body, headers=headers), 401, "invalid-signature")


def test_body_changed_after_signing(client, factory):
    factory.setup()
    body = json.dumps(completion())
    headers = signed_headers(body)
    assert_problem(client.post("/hooks/lms", data=body.replace("42", "43"), headers=headers), 401, "invalid-signature")


def test_stale_and_future_timestamps(client, ctx, factory):
    factory.setup()
    body = json.dumps(completion())
    en = {"Accept-Language": "en"}
    old = {**signed_headers(body, when=datetime.now(UTC) - timedelta(minutes=6)), **en}
    new = {**signed_headers(body, when=datetime.now(UTC) + timedelta(minutes=6)), **en}
    assert (
        "past" in assert_problem(client.post("/hooks/lms", data=body, headers=old), 401, "invalid-signature")["detail"]
    )
    assert (
        "future"
        in assert_problem(client.post("/hooks/lms", data=body, headers=new), 401, "invalid-signature")["detail"]
    )
    assert count(ctx, InboundEvent) == 0


def test_rotated_secrets_both_accepted(client, ctx, factory):
    from hub.connections.services import get_connector, rotate_secret

    factory.setup()
    with ctx.db.session_scope() as s:
        new_secret = rotate_secret(s, ctx, get_connector(s, "lms"))
    assert post_event(client, completion(user_id=1), secret=SECRET).status_code == 202
    assert post_event(client, completion(user_id=2), secret=new_secret).status_code == 202


def test_connector_changes_reach_intake_at_once_here_and_within_the_cache_time_elsewhere(
    client, ctx, factory, monkeypatch
):
    """Intake keeps a per-process view of the connector (no database read per request). A change made
    through the ORM in this process applies at once; a change another process makes (a plain UPDATE
    here) applies once :data:`INTAKE_CACHE_SECONDS` have passed."""
    from sqlalchemy import update

    from hub.connections import services
    from hub.connections.models import ConnectorConfig

    factory.setup()
    with ctx.db.session_scope() as s:
        new_secret = services.rotate_secret(s, ctx, services.get_connector(s, "lms"))
    assert post_event(client, completion(user_id=1), secret=SECRET).status_code == 202  # view cached
    with ctx.db.session_scope() as s:
        services.drop_old_secrets(s, ctx, services.get_connector(s, "lms"))
    assert post_event(client, completion(user_id=2), secret=SECRET).status_code == 401
    assert post_event(client, completion(user_id=3), secret=new_secret).status_code == 202

    with ctx.db.engine.begin() as c:  # as another process would: no ORM events here
        c.execute(update(ConnectorConfig).where(ConnectorConfig.slug == "lms").values(enabled=False))
    assert post_event(client, completion(user_id=4), secret=new_secret).status_code == 202  # still cached
    later = services.time.monotonic() + services.INTAKE_CACHE_SECONDS + 1
    monkeypatch.setattr(services.time, "monotonic", lambda: later)
    assert post_event(client, completion(user_id=5), secret=new_secret).status_code == 404


def test_not_json_body(client, ctx, factory):
    factory.setup()
    body = "this is not json"
    assert_problem(client.post("/hooks/lms", data=body, headers=signed_headers(body)), 400, "bad-request")
    assert count(ctx, InboundEvent) == 0


def test_wrong_content_type(client, factory):
    factory.setup()
    body = json.dumps(completion())
    headers = {**signed_headers(body), "content-type": "text/plain"}
    assert_problem(client.post("/hooks/lms", data=body, headers=headers), 415, "unsupported-media-type")


def test_body_over_one_mebibyte(client, ctx, factory):
    factory.setup()
    body = json.dumps(completion(padding="x" * (1024 * 1024)))
    assert_problem(client.post("/hooks/lms", data=body, headers=signed_headers(body)), 413, "request-entity-too-large")
    assert count(ctx, InboundEvent) == 0


def test_unknown_connector(client):
    assert_problem(post_event(client, completion(), slug="nope"), 404, "not-found")


def test_payload_without_mapped_recipient_is_kept_and_replayable(client, ctx, factory):
    factory.setup()
    payload = completion()
    del payload["data"]["user"]["email"]
    resp = post_event(client, payload)
    body = assert_problem(resp, 422, "event-not-processable")
    assert "data.user.email" in body["detail"] and body["status"] == 422
    with ctx.db.session_scope() as s:
        event = s.scalar(select(InboundEvent))
        assert event.status == "failed" and "data.user.email" in event.reason
    assert count(ctx, Assertion) == 0

    # the sender's data is fixed by changing the mapping; replay through the API awards it
    from hub.connections.services import get_connector

    with ctx.db.session_scope() as s:
        conn = get_connector(s, "lms")
        conn.config = {
            "mapping": {**conn.config["mapping"], "recipient_email": "data.user.alt_email || 'x@example.org'"}
        }
    auth = {"Authorization": "Bearer admin-token"}
    listed = client.get("/api/v1/events?status=failed", headers=auth).get_json()["items"]
    assert [e["id"] for e in listed] == [body["event"]]
    replayed = client.post(f"/api/v1/events/{body['event']}/replay", headers=auth)
    assert replayed.status_code == 202
    detail = client.get(f"/api/v1/events/{body['event']}", headers=auth).get_json()
    assert detail["status"] == "processed" and len(detail["history"]) == 2
    assert count(ctx, Assertion) == 1


def test_no_rule_matches_is_kept_with_reason(client, ctx, factory):
    factory.setup(key="OTHER-COURSE")
    assert post_event(client, completion()).status_code == 202
    with ctx.db.session_scope() as s:
        event = s.scalar(select(InboundEvent))
        assert event.status == "failed" and "no award rule matches" in event.reason
    assert count(ctx, Assertion) == 0


def test_condition_on_sports_result(client, ctx, factory):
    mapping = {
        "recipient_email": "athlete.email",
        "recipient_name": "athlete.name",
        "event_type": "'result'",
        "key": "competition",
    }
    factory.setup(mapping=mapping, event_type="result", key="MP-2026", condition="place <= `3`", allow_multiple=True)
    for place in (1, 4):
        payload = {
            "athlete": {"email": f"p{place}@example.org", "name": "Łucja Żak"},
            "competition": "MP-2026",
            "place": place,
        }
        assert post_event(client, payload).status_code == 202
    with ctx.db.session_scope() as s:
        assert [a.recipient_plain for a in s.scalars(select(Assertion))] == ["p1@example.org"]


def test_database_unreachable_answers_503(settings, tmp_path):
    from hub import create_app

    app = create_app(settings.with_(database_url="postgresql://postgres@127.0.0.1:1/none"))
    body = json.dumps(completion())
    resp = app.test_client().post("/hooks/lms", data=body, headers=signed_headers(body))
    assert_problem(resp, 503, "service-unavailable")
    assert resp.headers["Retry-After"] == "30"


def test_api_requires_token(client):
    assert_problem(client.get("/api/v1/events"), 401, "unauthorized")
    assert client.get("/api/v1/events", headers={"Authorization": "Bearer admin-token"}).status_code == 200


def test_event_processing_failure_leaves_no_half_written_award(client, ctx, factory, monkeypatch):
    """A crash while signing rolls back the whole award; the event is failed with a reason, and a
    replay after the fault is gone issues exactly one assertion."""
    import hub.badges.services as svc

    factory.setup()
    real = svc.sign_jws
    monkeypatch.setattr(svc, "sign_jws", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("HSM offline")))
    assert post_event(client, completion()).status_code == 202
    assert count(ctx, Assertion) == 0
    with ctx.db.session_scope() as s:
        event = s.scalar(select(InboundEvent))
        assert event.status == "failed" and event.reason == "internal error: RuntimeError"
        event_id = event.public_id
    monkeypatch.setattr(svc, "sign_jws", real)
    auth = {"Authorization": "Bearer admin-token"}
    assert client.post(f"/api/v1/events/{event_id}/replay", headers=auth).status_code == 202
    assert count(ctx, Assertion) == 1


def test_secret_not_in_logs(client, factory, caplog):
    factory.setup()
    with caplog.at_level("DEBUG"):
        post_event(client, completion())
        body = json.dumps(completion())
        client.post("/hooks/lms", data=body, headers=signed_headers(body, secret="whsec_" + "QUJD" * 11))
    assert SECRET not in caplog.text and SECRET.removeprefix("whsec_") not in caplog.text
