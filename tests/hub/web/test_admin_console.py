"""The console through the real app: sign-in, CSRF, headers, rate limit, TOTP, reset, and the main
screens (issuers, badge classes with images, connectors, rules, dry run, test events, awards, bulk)."""

from __future__ import annotations

import csv
import io
import re

import pyotp

from hub.accounts import services as accounts
from hub.accounts.models import AuditEntry, BulkJob
from hub.badges.models import Assertion, BadgeClass
from hub.connections.models import ConnectorConfig
from hub.demo import badge_png
from hub.inbox.models import InboundEvent
from hub.learners.mail import mailer_for
from tests.hub.web.conftest import PASSWORD, csrf, post_form, sign_in


def test_sign_in_out_and_security_headers(client, world):
    page = client.get("/admin/")
    assert page.status_code == 302 and "/admin/login" in page.headers["Location"]
    login = client.get("/admin/login")
    assert "frame-ancestors 'none'" in login.headers["Content-Security-Policy"]
    assert login.headers["X-Frame-Options"] == "DENY" and login.headers["X-Content-Type-Options"] == "nosniff"
    assert sign_in(client, "admin-a@example.org", "wrong password").status_code == 401
    ok = sign_in(client, "admin-a@example.org")
    assert ok.status_code == 302
    cookie = ok.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/admin/").status_code == 200
    assert post_form(client, "/admin/logout").status_code == 302
    assert client.get("/admin/").status_code == 302


def test_forms_without_csrf_token_are_refused(client, world):
    sign_in(client, "site@example.org")
    response = client.post("/admin/issuers/new", data={"name": "X", "url": "https://x.example"})
    assert response.status_code == 400
    assert client.post("/admin/login", data={"email": "a", "password": "b"}).status_code == 400


def test_login_is_rate_limited(client, world):
    answers = [sign_in(client, "admin-a@example.org", "wrong password") for _ in range(7)]
    assert [a.status_code for a in answers[:5]] == [401] * 5 and answers[-1].status_code == 429
    page = answers[-1].get_data(as_text=True)
    assert "Wait a moment and try again" in page or "Odczekaj" in page
    assert "per 1 minute" not in page  # Flask-Limiter's own description is not shown to people


def test_totp_setup_shows_a_qr_code(client, world):
    sign_in(client, "admin-a@example.org")
    page = client.get("/admin/account/totp").get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page and 'id="totp-secret"' in page


def test_totp_second_factor(client, ctx, world):
    with ctx.db.session_scope() as s:
        user = s.query(accounts.User).filter_by(email="admin-a@example.org").one()
        accounts.begin_totp(s, ctx, user)
        user.totp_enabled = True
        secret = accounts.totp_secret(ctx, user)
    response = sign_in(client, "admin-a@example.org")
    assert response.headers["Location"].endswith("/admin/login/code")
    assert client.get("/admin/").status_code == 302  # not signed in yet
    token = csrf(client, "/admin/login/code")
    assert client.post("/admin/login/code", data={"code": "000000", "csrf_token": token}).status_code == 401
    ok = client.post("/admin/login/code", data={"code": pyotp.TOTP(secret).now(), "csrf_token": token})
    assert ok.status_code == 302 and client.get("/admin/").status_code == 200


def test_password_reset_by_email(client, ctx, world):
    outbox = mailer_for(ctx.settings).sent
    outbox.clear()
    token = csrf(client, "/admin/password/forgot")
    client.post("/admin/password/forgot", data={"email": "nobody@example.org", "csrf_token": token})
    assert list(outbox) == []  # the same answer, but no mail, for unknown addresses
    client.post("/admin/password/forgot", data={"email": "admin-a@example.org", "csrf_token": token})
    body = outbox[-1].text
    link = re.search(r"http://hub\.test(/admin/password/reset/\S+)", body).group(1)
    token = csrf(client, link)
    data = {"password": "a new long password", "password2": "a new long password", "csrf_token": token}
    assert client.post(link, data=data).status_code == 302
    assert sign_in(client, "admin-a@example.org").status_code == 401
    assert sign_in(client, "admin-a@example.org", "a new long password").status_code == 302
    assert client.get(link).status_code == 302  # spent


def test_issuer_badge_connector_rule_test_event_and_revoke(client, ctx, world):
    sign_in(client, "site@example.org")
    r = post_form(client, "/admin/issuers/new", {"name": "Związek Piłki", "url": "https://zp.example.pl"})
    assert r.status_code == 302
    issuer_id = r.headers["Location"].rsplit("/", 1)[-1]
    bad = post_form(
        client,
        "/admin/badges/new",
        {"issuer": issuer_id, "name": "X", "description": "Y", "image": (io.BytesIO(b"GIF89a"), "x.gif")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422 and "PNG" in bad.get_data(as_text=True)
    r = post_form(
        client,
        "/admin/badges/new",
        {
            "issuer": issuer_id,
            "name": "Sędzia",
            "description": "Kurs sędziowski",
            "expires_after_days": "365",
            "alignment-0-name": "Sędziowanie",
            "alignment-0-url": "https://zp.example.pl/k/1",
            "alignment-0-framework": "ZP",
            "alignment-0-code": "S1",
            "image": (io.BytesIO(badge_png()), "b.png"),
        },
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    badge_id = r.headers["Location"].rsplit("/", 1)[-1]
    r = post_form(
        client,
        "/admin/connectors/new",
        {
            "issuer": issuer_id,
            "name": "Zawody",
            "slug": "zawody",
            "mapping": '{"recipient_email": "user.email", "recipient_name": "user.name", "event_type": "event",'
            ' "key": "course.id", "idempotency_key": "id"}',
            "example": '{"id": "e1", "event": "course_completed", "course": {"id": "S1"},'
            ' "user": {"email": "jan@example.org", "name": "Jan"}}',
        },
    )
    with ctx.db.session_scope() as s:
        connector = s.query(ConnectorConfig).filter_by(slug="zawody").one()
        connector_id = connector.public_id
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/admin/connectors/{connector_id}")
    page = client.get(r.headers["Location"]).get_data(as_text=True)  # the secret, after the redirect
    assert "whsec_" in page and "webhook-signature" in page
    assert "whsec_" not in client.get(f"/admin/connectors/{connector_id}").get_data(as_text=True)  # shown once
    post_form(
        client,
        f"/admin/connectors/{connector_id}/rules",
        {"event_type": "course_completed", "key": "S1", "badge_class": badge_id},
    )
    r = post_form(client, f"/admin/connectors/{connector_id}/test")
    assert r.status_code == 302 and "/admin/events/" in r.headers["Location"]
    event_page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "processed" in event_page or "przetworzone" in event_page
    with ctx.db.session_scope() as s:
        event = s.query(InboundEvent).filter_by(connector_id=connector.id).one()
        assertion = s.query(Assertion).filter_by(source_event_id=event.id).one()
        assert assertion.recipient_plain == "jan@example.org"
        event_id, assertion_id = event.public_id, assertion.public_id
    dry = post_form(client, f"/admin/connectors/{connector_id}/dry-run", {"event": event_id}).get_data(as_text=True)
    assert "Sędzia" in dry
    r = post_form(client, f"/admin/awards/{assertion_id}/revoke", {"reason": "błąd"})
    assert r.status_code == 302
    with ctx.db.session_scope() as s:
        assert s.query(Assertion).filter_by(public_id=assertion_id).one().revoked
        actions = {e.action for e in s.query(AuditEntry)}
    assert {"issuer.create", "badge_class.create", "connector.create", "rule.create", "assertion.revoke"} <= actions
    rotated = post_form(client, f"/admin/connectors/{connector_id}/rotate")
    assert rotated.status_code == 302  # POST/redirect/GET: reloading the page rotates nothing
    assert "whsec_" in client.get(rotated.headers["Location"]).get_data(as_text=True)
    assert "whsec_" not in client.get(rotated.headers["Location"]).get_data(as_text=True)


def test_awards_csv_export_and_search(client, world):
    sign_in(client, "admin-a@example.org")
    rows = list(csv.reader(io.StringIO(client.get("/admin/awards.csv").get_data().decode("utf-8-sig"))))
    assert rows[0][0] == "assertion" and [r[3] for r in rows[1:]] == ["a@example.org"]
    assert "a@example.org" in client.get("/admin/awards?q=A@EXAMPLE").get_data(as_text=True)


def test_bulk_award_preview_errors_and_job(client, ctx, world):
    sign_in(client, "staff-a@example.org")
    lines = ["email,name,badge,evidence_url,issued_on"]
    lines += [f"p{i}@example.org,Osoba {i},Zażółć gęślą jaźń,,2025-06-30" for i in range(5000)]
    lines[3] = "not-an-email,X,Zażółć gęślą jaźń,,"
    lines[4] = "x@example.org,X,No such badge,,"
    lines[5] = "y@example.org,Y,Zażółć gęślą jaźń,ftp://x,"
    data = "\n".join(lines).encode()
    with ctx.db.session_scope() as s:
        issuer_pid = s.query(BadgeClass).filter_by(id=world["a"]["badge_id"]).one().issuer.public_id
    r = post_form(
        client,
        "/admin/bulk",
        {"issuer": issuer_pid, "file": (io.BytesIO(data), "people.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    preview = client.get(r.headers["Location"]).get_data(as_text=True)
    with ctx.db.session_scope() as s:
        job = s.query(BulkJob).filter_by(filename="people.csv").one()
        assert job.total == 4997 and [e["line"] for e in job.errors] == [4, 5, 6]
        job_id = job.public_id
    assert "<td>4</td>" in preview
    post_form(client, f"/admin/bulk/{job_id}/start")  # HUB_JOB_MODE=sync: runs to the end here
    progress = client.get(f"/admin/bulk/{job_id}/progress").get_json()
    assert progress == {"status": "done", "done": 4997, "total": 4997, "created": 4997, "errors": 0}
    with ctx.db.session_scope() as s:
        assert s.query(Assertion).filter(Assertion.source_key.like(f"bulk:{job_id}:%")).count() == 4997


def test_staff_may_award_but_not_configure(client, world):
    sign_in(client, "staff-a@example.org")
    assert client.get(f"/admin/connectors/{world['a']['connector_id']}").status_code == 403
    assert post_form(client, f"/admin/issuers/{world['a']['issuer_pid']}/rotate-key").status_code == 403
    r = post_form(client, f"/admin/awards/{world['a']['assertion']}/revoke", {"reason": "test"})
    assert r.status_code == 302


def test_console_language_switch_and_dates(client, world):
    sign_in(client, "admin-a@example.org")
    pl = client.get("/admin/", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert "Nagrody w tygodniach" in pl and 'lang="pl"' in pl
    post_form(client, "/admin/language", {"lang": "en", "next": "/admin/"})
    en = client.get("/admin/", headers={"Accept-Language": "pl"}).get_data(as_text=True)
    assert "Awards per week" in en and 'lang="en"' in en


def test_cli_creates_the_first_site_admin(app, ctx):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["users", "create-admin", "root@example.org", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    with ctx.db.session_scope() as s:
        assert accounts.authenticate(s, "root@example.org", PASSWORD).is_site_admin
    again = runner.invoke(args=["users", "create-admin", "root@example.org", "--password-stdin"], input=PASSWORD + "\n")
    assert again.exit_code == 1 and "exists" in again.output


def test_replay_from_the_events_list(client, world):
    from tests.hub.web.conftest import post_form

    sign_in(client, "admin-a@example.org")
    nothing = post_form(client, "/admin/events/replay?lang=en", {}, follow_redirects=True)
    assert "Tick the events to replay first." in nothing.get_data(as_text=True)
    one = post_form(client, "/admin/events/replay?lang=en", {"event": world["a"]["event"]}, follow_redirects=True)
    assert "1 event queued again." in one.get_data(as_text=True)
