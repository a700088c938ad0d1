"""Fixes from a new administrator's trial of the console and the API, through the real app on SQLite and
PostgreSQL (the ``world`` fixture): the awards CSV (formula injection, BOM), award states as the public
page tells them, issue dates in the future, repeated bulk rows, Unicode and literal award search, award
e-mails for hand-made awards, API tokens shown once after a redirect, and input checks (connector names,
country codes, recipients and event types of webhook events)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from hub.accounts.models import ApiToken, AuditEntry, BulkJob, User
from hub.badges import services as badges
from hub.badges.models import Assertion
from hub.connections import services as connections
from hub.connections.models import ConnectorConfig
from hub.db import utcnow
from hub.demo import badge_png
from hub.errors import ValidationError
from hub.inbox.models import InboundEvent
from hub.learners.mail import mailer_for
from hub.learners.models import Notification
from hub.web.admin.csvexport import safe_cell
from tests.conftest import completion, post_event
from tests.hub.web.conftest import post_form, sign_in

ADMIN = {"Authorization": "Bearer admin-token"}
EN = {"Accept-Language": "en"}
BADGE = "Zażółć gęślą jaźń"  # the world's badge class name (issuer A and B)


@pytest.fixture
def outbox(ctx):
    sent = mailer_for(ctx.settings).sent
    sent.clear()
    return sent


def _award(client, world, email, **extra):
    body = {"badge_class": world["a"]["badge"], "email": email, "notify": False, **extra}
    r = client.post("/api/v1/awards", json=body, headers=ADMIN)
    assert r.status_code in (200, 201), r.get_json()
    return r.get_json()


def _mail_rows(ctx, assertion_id: str) -> list[tuple[str, str]]:
    with ctx.db.session_scope() as s:
        award = s.query(Assertion).filter_by(public_id=assertion_id).one()
        return [(n.kind, n.status) for n in s.query(Notification).filter_by(assertion_id=award.id).order_by("id")]


def _csv(client, query: str = "") -> tuple[bytes, list[dict]]:
    r = client.get(f"/admin/awards.csv{query}")
    assert r.status_code == 200 and r.is_streamed and r.mimetype == "text/csv"
    assert r.mimetype_params.get("charset") == "utf-8"
    data = r.get_data()
    return data, list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


# ---- 1. the awards CSV ---------------------------------------------------------------------------------


def test_safe_cell_prefixes_every_formula_start():
    for text in ("=1+2", "+48", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert [safe_cell(v) for v in ("Zofia", "a=b", "", None, 5)] == ["Zofia", "a=b", "", "", "5"]


def test_awards_csv_neutralises_formulas_and_starts_with_a_bom(client, ctx, world):
    evil = _award(client, world, "evil@example.org", name='=HYPERLINK("http://evil","x")')
    _award(client, world, "plus@example.org", name="+48 600 100 200")
    _award(client, world, "at@example.org", name="@SUM(A1:A9)")
    r = client.post(f"/api/v1/awards/{evil['id']}/revoke", json={"reason": "-1+1 cmd|' /C calc'!A0"}, headers=ADMIN)
    assert r.status_code == 200
    sign_in(client, "admin-a@example.org")
    data, rows = _csv(client)
    assert data.startswith("\ufeff".encode()) and data[3:13] == b"assertion,"  # UTF-8 BOM for Excel, then header
    by_email = {row["recipient"]: row for row in rows}
    assert by_email["evil@example.org"]["name"] == '\'=HYPERLINK("http://evil","x")'
    assert by_email["evil@example.org"]["reason"] == "'-1+1 cmd|' /C calc'!A0"
    assert by_email["plus@example.org"]["name"] == "'+48 600 100 200"
    assert by_email["at@example.org"]["name"] == "'@SUM(A1:A9)"
    assert by_email["a@example.org"]["name"] == "Zażółć Gęślą Jaźń" and by_email["a@example.org"]["badge"] == BADGE
    assert by_email["a@example.org"]["status"] == "valid" and by_email["evil@example.org"]["status"] == "revoked"
    assert "Zażółć Gęślą Jaźń".encode() in data  # UTF-8, not a legacy code page


# ---- 2. award states and issue dates -------------------------------------------------------------------


def test_console_tells_an_expired_award_as_the_public_page_does(client, ctx, world):
    aid = world["a"]["assertion"]
    with ctx.db.session_scope() as s:
        s.query(Assertion).filter_by(public_id=aid).one().expires = utcnow() - timedelta(days=1)
    public = client.get(f"/assertions/{aid}", headers={"Accept": "text/html", **EN}).get_data(as_text=True)
    assert 'class="status expired">Expired' in public
    sign_in(client, "admin-a@example.org")
    listing = client.get("/admin/awards", headers=EN).get_data(as_text=True)
    assert '<span class="status status-expired">expired</span>' in listing and "status-valid" not in listing
    page = client.get(f"/admin/awards/{aid}", headers=EN).get_data(as_text=True)
    assert '<dd id="award-state"><span class="status status-expired">expired</span>' in page
    event = client.get(f"/admin/events/{world['a']['event']}", headers=EN).get_data(as_text=True)
    assert '<span class="status status-expired">expired</span>' in event  # the event's awards too
    polish = client.get(f"/admin/awards/{aid}?lang=pl").get_data(as_text=True)
    assert 'status-expired">wygasła</span>' in polish and "ważna" not in polish.split('id="award-state"')[1][:80]
    assert "&lt;<bdi>a@example.org</bdi>&gt;" in client.get("/admin/awards?state=expired").get_data(as_text=True)
    assert "&lt;<bdi>a@example.org</bdi>&gt;" not in client.get("/admin/awards?state=valid").get_data(as_text=True)
    assert [r["status"] for r in _csv(client)[1]] == ["expired"]
    assert _csv(client, "?state=valid")[1] == []


def test_issue_dates_in_the_future_are_refused_on_every_path(client, ctx, world):
    r = client.post(
        "/api/v1/awards",
        json={"badge_class": world["a"]["badge"], "email": "future@example.org", "issued_on": "2999-01-01T00:00:00Z"},
        headers={**ADMIN, **EN},
    )
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert r.get_json()["field"] == "issued_on" and "2999-01-01 00:00 UTC is in the future" in r.get_json()["detail"]
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()  # a sender's clock a little ahead: allowed
    assert _award(client, world, "soon@example.org", issued_on=soon)["issued_on"].startswith(soon[:16])
    with ctx.db.session_scope() as s:
        assert s.query(Assertion).filter_by(recipient_plain="future@example.org").count() == 0
    with pytest.raises(ValidationError):
        badges.check_issued_on(datetime.now(UTC) + timedelta(hours=1))
    assert badges.check_issued_on(None) <= utcnow()

    # An event dated in the future fails with the reason (the same rule in the award service).
    payload = completion(email="later@example.org", user_id=99)
    payload["data"]["completion"]["completed_at"] = "2999-01-01T00:00:00Z"
    assert post_event(client, payload, slug="lms-a").status_code == 202
    with ctx.db.session_scope() as s:
        event = s.query(InboundEvent).order_by(InboundEvent.id.desc()).first()
        assert event.status == "failed" and "is in the future" in event.reason


def test_bulk_preview_refuses_future_dates_and_reports_repeated_rows(client, ctx, world, outbox):
    sign_in(client, "staff-a@example.org")
    lines = [
        "email,name,badge,evidence_url,issued_on",
        f"p1@example.org,Osoba 1,{BADGE},,2025-06-30",  # line 2
        f"p2@example.org,Osoba 2,{BADGE},,2999-01-01",  # line 3: in the future
        f"P1@Example.org,Osoba 1,{BADGE},,2025-07-01",  # line 4: the same person and once-only badge as line 2
        f"p3@example.org,Ola Żółć,{BADGE},,",  # line 5
        f"p4@example.org,{'x' * 300},{BADGE},,",  # line 6: name over 255 characters
    ]
    r = post_form(
        client,
        "/admin/bulk",
        {"issuer": world["a"]["issuer_pid"], "file": (io.BytesIO("\n".join(lines).encode()), "people.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    preview = client.get(r.headers["Location"], headers=EN).get_data(as_text=True)
    with ctx.db.session_scope() as s:
        job = s.query(BulkJob).filter_by(filename="people.csv").one()
        assert job.total == 2 and [row["line"] for row in job.rows] == [2, 5]
        assert [(e["line"], bool(e.get("warning"))) for e in job.errors] == [(3, False), (4, True), (6, False)]
        job_id = job.public_id
    assert "2 rows have errors and will be skipped." in preview
    assert "1 rows repeat an earlier row and will be skipped." in preview
    assert "2999-01-01 00:00 UTC is in the future" in preview
    assert "<td>4</td><td>repeats line 2 (the same person and badge); skipped</td>" in preview
    assert 'name="notify" value="on" checked' in preview

    post_form(client, f"/admin/bulk/{job_id}/start", {"notify": "on"})  # HUB_JOB_MODE=sync: runs here
    assert client.get(f"/admin/bulk/{job_id}/progress").get_json() == {
        "status": "done",
        "done": 2,
        "total": 2,
        "created": 2,
        "errors": 0,
    }
    assert sorted(m.to for m in outbox) == ["p1@example.org", "p3@example.org"]
    with ctx.db.session_scope() as s:
        entry = s.query(AuditEntry).filter_by(action="bulk.start").one()
        assert entry.after["notify"] is True

    # The same file again, e-mails unticked: p1 and p3 have the badge already, nobody is written to.
    outbox.clear()
    again = post_form(
        client,
        "/admin/bulk",
        {"issuer": world["a"]["issuer_pid"], "file": (io.BytesIO("\n".join(lines).encode()), "again.csv")},
        content_type="multipart/form-data",
    )
    second = again.headers["Location"].rsplit("/", 1)[-1]
    post_form(client, f"/admin/bulk/{second}/start")
    done = client.get(f"/admin/bulk/{second}", headers=EN).get_data(as_text=True)
    assert "0 new awards." in done and "2 rows were awarded before; nothing new was issued for them." in done
    assert list(outbox) == []


# ---- 3. search ----------------------------------------------------------------------------------------


def test_award_search_is_unicode_case_insensitive_and_literal(client, ctx, world):
    _award(client, world, "ola@example.org", name="Ola Żółć-Ślęzak")
    _award(client, world, "ala@example.org", name="Ala 100%")
    _award(client, world, "jan@example.org", name="Jan_Nowak")
    _award(client, world, "strasse@example.org", name="STRASSE")
    sign_in(client, "admin-a@example.org")

    def found(q: str) -> set[str]:
        html = client.get("/admin/awards", query_string={"q": q}).get_data(as_text=True)
        return set(re.findall(r"&lt;<bdi>([^<]+)</bdi>&gt;", html))

    for q in ("Żółć", "żółć", "ŻÓŁĆ"):  # the world's award is to "Zażółć Gęślą Jaźń"
        assert found(q) == {"a@example.org", "ola@example.org"}, q
    for q in ("Ślęzak", "ślęzak", "ŚLĘZAK", "ola ż", "OLA@EXAMPLE"):
        assert found(q) == {"ola@example.org"}, q
    assert found("%") == {"ala@example.org"}  # a wildcard matches itself only
    assert found("100%") == {"ala@example.org"}
    assert found("_") == {"jan@example.org"}
    assert found("j_n") == set() and found("zolc") == set()
    assert found("strasse") == {"strasse@example.org"}
    assert len(found("example.org")) == 5  # and B's award stays out of A's view
    api = client.get("/api/v1/awards", query_string={"recipient": "ŚLĘZAK"}, headers=ADMIN).get_json()
    assert [a["recipient"] for a in api["items"]] == ["ola@example.org"]
    api = client.get("/api/v1/awards", query_string={"recipient": "%"}, headers=ADMIN).get_json()
    assert [a["recipient"] for a in api["items"]] == ["ala@example.org"]


# ---- 4. award e-mails for awards made by hand ---------------------------------------------------------


def test_console_award_notifies_the_recipient_unless_unticked(client, ctx, world, outbox):
    sign_in(client, "staff-a@example.org")
    form = client.get("/admin/awards", headers=EN).get_data(as_text=True)
    assert '<input type="checkbox" id="a-notify" name="notify" value="on" checked>' in form
    assert "Notify the recipient by e-mail" in form
    r = post_form(
        client,
        "/admin/awards",
        {"badge_class": world["a"]["badge"], "email": "Nowa@Example.org", "name": "Nowa Osoba", "notify": "on"},
    )
    assert r.status_code == 302
    loud = r.headers["Location"].rsplit("/", 1)[-1]
    (mail,) = list(outbox)
    assert mail.to == "nowa@example.org" and BADGE in mail.subject and "/me/claim/" in mail.text
    assert _mail_rows(ctx, loud) == [("award", "sent")]
    page = client.get(f"/admin/awards/{loud}", headers=EN).get_data(as_text=True)
    assert "Re-send notification" in page and ">Send notification<" not in page

    outbox.clear()
    r = post_form(client, "/admin/awards", {"badge_class": world["a"]["badge"], "email": "cicha@example.org"})
    quiet = r.headers["Location"].rsplit("/", 1)[-1]
    assert list(outbox) == [] and _mail_rows(ctx, quiet) == []
    page = client.get(f"/admin/awards/{quiet}", headers=EN).get_data(as_text=True)
    assert ">Send notification<" in page and "Re-send notification" not in page
    sent = post_form(client, f"/admin/awards/{quiet}/notification", headers=EN, follow_redirects=True)
    assert "The e-mail was sent to cicha@example.org." in sent.get_data(as_text=True)
    assert [m.to for m in outbox] == ["cicha@example.org"]
    assert _mail_rows(ctx, quiet) == [("award", "sent")]  # the first e-mail is the award e-mail
    assert "Re-send notification" in client.get(f"/admin/awards/{quiet}", headers=EN).get_data(as_text=True)
    with ctx.db.session_scope() as s:
        entries = s.query(AuditEntry).filter_by(action="assertion.create", via="console")
        notify = {e.object_id: e.after["notify"] for e in entries}
    assert notify == {loud: True, quiet: False}


def test_api_awards_notify_by_default(client, ctx, world, outbox):
    badge = world["a"]["badge"]
    one = client.post("/api/v1/awards", json={"badge_class": badge, "email": "api@example.org"}, headers=ADMIN)
    assert one.status_code == 201 and [m.to for m in outbox] == ["api@example.org"]
    again = client.post("/api/v1/awards", json={"badge_class": badge, "email": "api@example.org"}, headers=ADMIN)
    assert again.status_code == 200 and len(outbox) == 1  # the award existed: no second e-mail
    silent = {"badge_class": badge, "email": "silent@example.org", "notify": False}
    assert client.post("/api/v1/awards", json=silent, headers=ADMIN).status_code == 201 and len(outbox) == 1
    batch = {
        "awards": [
            {"badge_class": badge, "email": "b1@example.org"},
            {"badge_class": badge, "email": "b2@example.org", "notify": False},
        ]
    }
    assert client.post("/api/v1/awards/batch", json=batch, headers=ADMIN).status_code == 200
    assert [m.to for m in outbox] == ["api@example.org", "b1@example.org"]
    spec = client.get("/api/v1/openapi.json").get_json()
    notify = spec["components"]["schemas"]["AwardIn"]["properties"]["notify"]
    assert notify["type"] == "boolean" and notify["default"] is True and "e-mail" in notify["description"]


# ---- 5. API tokens: POST/redirect/GET, shown once ------------------------------------------------------


def test_token_creation_redirects_and_shows_the_secret_once(app, client, ctx, world):
    sign_in(client, "admin-a@example.org")
    r = post_form(client, "/admin/account/tokens", {"name": "ci", "scope": "read"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/account")
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    stored = json.dumps(app.session_interface.get_signing_serializer(app).loads(cookie))
    page = client.get("/admin/account").get_data(as_text=True)
    token = re.search(r'<pre id="new-token">([^<]+)</pre>', page).group(1)
    assert token.startswith("bh_") and token not in stored  # encrypted while it waits in the cookie
    assert client.get("/api/v1/awards", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    reloaded = client.get("/admin/account").get_data(as_text=True)  # a reload: no new token, no secret
    assert 'id="new-token"' not in reloaded and token not in reloaded
    with ctx.db.session_scope() as s:
        user = s.query(User).filter_by(email="admin-a@example.org").one()
        assert s.query(ApiToken).filter_by(user_id=user.id).count() == 1


# ---- 6. input checks ----------------------------------------------------------------------------------


def test_connector_names_are_capped_by_the_service(client, ctx, world):
    sign_in(client, "site@example.org")
    mapping = '{"recipient_email": "user.email", "event_type": "event"}'
    long = post_form(
        client, "/admin/connectors/new", {"name": "x" * 1000, "slug": "long", "mapping": mapping}, headers=EN
    )
    assert long.status_code == 422 and "name is longer than 255 characters" in long.get_data(as_text=True)
    ok = post_form(client, "/admin/connectors/new", {"name": "y" * 255, "slug": "long", "mapping": mapping})
    assert ok.status_code == 302
    connector_id = world["a"]["connector_id"]
    post_form(client, f"/admin/connectors/{connector_id}", {"name": "z" * 256, "mapping": mapping}, headers=EN)
    with ctx.db.session_scope() as s:
        assert s.query(ConnectorConfig).filter_by(public_id=connector_id).one().name == "LMS"
        assert len(s.query(ConnectorConfig).filter_by(slug="long").one().name) == 255
        with pytest.raises(ValidationError) as exc:
            connections.create_connector(s, ctx, slug="other", kind="webhooks", name="n" * 256, config={})
        assert exc.value.extra["field"] == "name"


def test_country_codes_are_iso_3166_alpha_2(client, ctx, world):
    url = f"/api/v1/frameworks/badges/{world['a']['badge']}/micro-credential"
    headers = {**ADMIN, **EN}
    for value, field, words in (
        ({"issuer_country": "Polska"}, "issuer_country", '"Polska" is a country name: write its two-letter code, PL'),
        ({"issuer_country": "Niemcy"}, "issuer_country", "code, DE"),
        ({"issuer_country": "XX"}, "issuer_country", '"XX" is not an ISO 3166-1 alpha-2 country code'),
        ({"issuer_country": "EU"}, "issuer_country", "alpha-2"),
        ({"awarding_bodies": [{"name": "Szkoła", "country": "PO"}]}, "awarding_bodies[0]", "awarding body 1: "),
    ):
        r = client.put(url, json=value, headers=headers)
        assert r.status_code == 422 and r.get_json()["field"] == field, r.get_json()
        assert words in r.get_json()["detail"], r.get_json()
    good = {"issuer_country": "pl", "awarding_bodies": [{"name": "S", "country": "de"}]}
    r = client.put(url, json=good, headers=ADMIN)
    assert r.status_code == 200 and r.get_json()["issuer_country"] == "PL"
    assert r.get_json()["awarding_bodies"] == [{"name": "S", "country": "DE"}]

    sign_in(client, "admin-a@example.org")
    form = client.get("/admin/badges/new").get_data(as_text=True)
    assert 'maxlength="2"' not in form  # "Polska" is not cut to "PO"
    page = post_form(
        client,
        "/admin/badges/new",
        {
            "issuer": world["a"]["issuer_pid"],
            "name": "Mikropoświadczenie",
            "description": "Opis",
            "micro_credential": "on",
            "issuer_country": "Polska",
            "body-0-name": "Szkoła",
            "body-0-country": "XX",
            "image": (io.BytesIO(badge_png()), "b.png"),
        },
        content_type="multipart/form-data",
        headers=EN,
    )
    errors = dict(re.findall(r'<p class="field-error" id="([^"]+)-error">([^<]+)</p>', page.get_data(as_text=True)))
    assert page.status_code == 422
    assert "write its two-letter code, PL" in errors["issuer_country"].replace("&#34;", '"')
    assert "not an ISO 3166-1 alpha-2 country code" in errors["body-0-country"]


def test_webhook_events_with_unusable_recipient_or_event_type_fail_readably(client, ctx, world):
    bad = {
        "number": completion(email=123, user_id=1),
        "nul": completion(email="a\u0000b@x.pl", user_id=2),
        "list": completion(email="ok@example.org", user_id=3, type=["course_completed"]),
    }
    # refused at intake (issue 13: never accepted with 202 when it can never be processed), stored as failed
    for name in ("number", "nul"):
        refused = post_event(client, bad[name], slug="lms-a")
        assert refused.status_code == 422 and refused.get_json()["field"] == "recipient_email"
    listed = post_event(client, bad["list"], slug="lms-a")
    assert listed.status_code == 422 and listed.get_json()["field"] == "event_type"
    assert "JSON" in listed.get_json()["detail"]  # "must be text, not a JSON list", in the reader's language
    with ctx.db.session_scope() as s:
        rows = s.query(InboundEvent).order_by(InboundEvent.id).all()[-3:]
        outcome = [(e.status, e.reason) for e in rows]
        ids = [e.public_id for e in rows]
        assert s.query(Assertion).filter(Assertion.source_event_id.in_([e.id for e in rows])).count() == 0
    assert outcome[0][0] == "failed" and 'not an e-mail address: "123"' in outcome[0][1]
    assert outcome[1][0] == "failed" and 'not an e-mail address: "a\\x00b@x.pl"' in outcome[1][1]
    assert outcome[2][0] == "failed" and "must be text" in outcome[2][1]
    dry = client.post(f"/api/v1/events/{ids[0]}/dry-run", headers={**ADMIN, **EN}).get_json()
    assert dry["recipient"] is None and "recipient's e-mail is not usable" in dry["error"]
    sign_in(client, "admin-a@example.org")
    page = post_form(client, f"/admin/connectors/{world['a']['connector_id']}/dry-run", {"event": ids[1]}, headers=EN)
    html = page.get_data(as_text=True)
    assert "not an e-mail address" in html and "a\\x00b@x.pl" in html


def test_console_refuses_an_over_long_recipient_name(client, ctx, world):
    sign_in(client, "staff-a@example.org")
    r = post_form(
        client,
        "/admin/awards",
        {"badge_class": world["a"]["badge"], "email": "long@example.org", "name": "N" * 1000},
        headers=EN,
        follow_redirects=True,
    )
    assert r.status_code == 200 and "the recipient&#39;s name is longer than 255 characters" in r.get_data(as_text=True)
    with ctx.db.session_scope() as s:
        assert s.query(Assertion).filter_by(recipient_plain="long@example.org").count() == 0
