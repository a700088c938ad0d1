"""Re-sending the award e-mail from the console and the API: a fresh outbox row and claim link, really
delivered (console mail backend); refused for revoked awards and erased recipients; rate-limited;
audit-logged. Runs on SQLite and PostgreSQL (the ``world`` fixture)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from hub.accounts.models import AuditEntry
from hub.badges import services as badges
from hub.badges.models import Assertion
from hub.db import utcnow
from hub.learners.mail import mailer_for
from hub.learners.models import LinkToken, Notification
from tests.hub.web.conftest import post_form, sign_in

ADMIN = {"Authorization": "Bearer admin-token"}
CLAIM = re.compile(r"http://hub\.test/me/claim/(\S+)")


@pytest.fixture
def outbox(ctx):
    sent = mailer_for(ctx.settings).sent
    sent.clear()
    return sent


def _rows(ctx, assertion_id: str) -> list[Notification]:
    with ctx.db.session_scope() as s:
        award = s.query(Assertion).filter_by(public_id=assertion_id).one()
        rows = s.query(Notification).filter_by(assertion_id=award.id).order_by(Notification.id).all()
        s.expunge_all()
        return rows


def _age_mails(ctx, assertion_id: str, by=timedelta(minutes=2)) -> None:
    """Make the award's e-mails older, as if time had passed since they were queued."""
    with ctx.db.session_scope() as s:
        award = s.query(Assertion).filter_by(public_id=assertion_id).one()
        for row in s.query(Notification).filter_by(assertion_id=award.id):
            row.created_at = row.created_at - by


def test_console_resends_with_a_fresh_claim_link(client, ctx, world, outbox):
    award = world["a"]["assertion"]
    (first,) = _rows(ctx, award)  # the e-mail of the award, sent when the event was processed
    assert first.kind == "award" and first.status == "sent"
    sign_in(client, "staff-a@example.org")  # staff may award, so may re-send
    page = client.get(f"/admin/awards/{award}").get_data(as_text=True)
    assert "Re-send notification" in page or "Wyślij powiadomienie ponownie" in page

    too_soon = post_form(client, f"/admin/awards/{award}/notification", follow_redirects=True)
    text = too_soon.get_data(as_text=True)
    assert "less than a minute ago" in text or "niecałą minutę temu" in text
    assert list(outbox) == []

    _age_mails(ctx, award)
    r = post_form(client, f"/admin/awards/{award}/notification")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/awards/{award}")
    (mail,) = list(outbox)
    assert mail.to == "a@example.org" and "Zażółć gęślą jaźń" in mail.subject
    link = CLAIM.search(mail.text).group(1)
    rows = _rows(ctx, award)
    assert [(n.kind, n.status) for n in rows] == [("award", "sent"), ("resend", "sent")]
    with ctx.db.session_scope() as s:
        links = s.query(LinkToken).filter_by(purpose="claim", email="a@example.org").count()
        entry = s.query(AuditEntry).filter_by(action="assertion.resend_notification").one()
        assert (entry.actor, entry.object_id, entry.after) == ("staff-a@example.org", award, {"notification": "resend"})
    assert links == 2  # the first e-mail's link and a new one
    page = client.get(f"/admin/awards/{award}").get_data(as_text=True)
    assert page.count("<tr><td><time") == 2  # both e-mails listed
    assert client.get(f"/me/claim/{link}").status_code == 200  # the new link opens the claim page


def test_refused_for_revoked_awards_and_erased_recipients(client, ctx, world, outbox):
    award = world["a"]["assertion"]
    _age_mails(ctx, award)
    sign_in(client, "admin-a@example.org")
    with ctx.db.session_scope() as s:
        badges.revoke(s, ctx, s.query(Assertion).filter_by(public_id=award).one(), "mistake")
    r = post_form(client, f"/admin/awards/{award}/notification", follow_redirects=True)
    assert "revoked" in r.get_data(as_text=True) or "unieważniona" in r.get_data(as_text=True)
    api = client.post(f"/api/v1/awards/{award}/notification", headers=ADMIN)
    assert api.status_code == 409 and api.mimetype == "application/problem+json"
    assert api.get_json()["reason"] == "revoked"

    other = world["b"]["assertion"]
    _age_mails(ctx, other)
    with ctx.db.session_scope() as s:
        badges.forget_recipient(s, s.query(Assertion).filter_by(public_id=other).one())
    api = client.post(f"/api/v1/awards/{other}/notification", headers=ADMIN)
    assert api.status_code == 409 and api.get_json()["reason"] == "no_email"
    assert list(outbox) == []
    with ctx.db.session_scope() as s:
        assert s.query(AuditEntry).filter_by(action="assertion.resend_notification").count() == 0


def test_api_resend_rate_limits_and_scopes(client, ctx, world, outbox):
    award = world["a"]["assertion"]
    _age_mails(ctx, award)
    r = client.post(f"/api/v1/awards/{award}/notification", headers=ADMIN)
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["award"] == award and body["to"] == "a@example.org" and body["status"] == "sent"
    assert body["kind"] == "resend" and body["sent_at"]
    assert [m.to for m in outbox] == ["a@example.org"]

    again = client.post(f"/api/v1/awards/{award}/notification", headers=ADMIN)
    assert again.status_code == 429 and again.mimetype == "application/problem+json"
    assert again.get_json()["reason"] == "too_soon" and 0 < int(again.headers["Retry-After"]) <= 61

    with ctx.db.session_scope() as s:  # four more re-sends earlier today: five in 24 hours
        award_row = s.query(Assertion).filter_by(public_id=award).one()
        for hours in (2, 3, 4, 5):
            s.add(
                Notification(
                    kind="resend",
                    assertion_id=award_row.id,
                    status="sent",
                    created_at=utcnow() - timedelta(hours=hours),
                )
            )
    _age_mails(ctx, award)
    limited = client.post(f"/api/v1/awards/{award}/notification", headers=ADMIN)
    assert limited.status_code == 429 and limited.get_json()["reason"] == "daily_limit"
    assert len(outbox) == 1

    # B's administrator cannot reach A's award; a read-only token cannot send.
    assert (
        client.post(
            f"/api/v1/awards/{award}/notification", headers={"Authorization": f"Bearer {world['token_b']}"}
        ).status_code
        == 404
    )
    from hub.accounts import services as accounts
    from hub.accounts.models import User

    with ctx.db.session_scope() as s:
        user = s.query(User).filter_by(email="admin-a@example.org").one()
        _, token = accounts.create_api_token(s, user, name="ro", scope="read")
    r = client.post(f"/api/v1/awards/{award}/notification", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403


def test_resend_needs_the_csrf_token(client, world):
    sign_in(client, "admin-a@example.org")
    assert client.post(f"/admin/awards/{world['a']['assertion']}/notification").status_code == 400


def test_resend_route_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/awards/{assertion_id}/notification"]["post"]
    assert "202" in operation["responses"] and "again" in operation["summary"] + operation.get("description", "")
