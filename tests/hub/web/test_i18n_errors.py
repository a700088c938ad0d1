"""Service error messages in the reader's language: console flashes, error pages, problem JSON, stored
reasons and bulk-import errors; logs and stored reasons stay English; the user's language setting.

The order for every message: ``?lang=``, then the user's setting, then ``Accept-Language``, then
``HUB_DEFAULT_LOCALE`` (``pl`` in the tests).
"""

from __future__ import annotations

import base64
import io
import logging
import re

from hub.accounts import services as accounts
from hub.accounts.models import AuditEntry, BulkJob, User
from hub.demo import badge_png
from hub.inbox.models import InboundEvent
from hub.learners.mail import mailer_for
from tests.conftest import completion, post_event
from tests.hub.web.conftest import csrf, post_form, sign_in

PL = {"Accept-Language": "pl-PL,pl;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.8"}
GIF = b"GIF89a\x01\x00\x01\x00"


def _token(ctx, email: str, scope: str = "manage") -> dict:
    with ctx.db.session_scope() as s:
        user = s.query(User).filter_by(email=email).one()
        return {"Authorization": f"Bearer {accounts.create_api_token(s, user, name=scope, scope=scope)[1]}"}


def _new_badge(client, issuer: str, *, name: str = "Sędzia", image: bytes = GIF, headers=None):
    return post_form(
        client,
        "/admin/badges/new",
        {"issuer": issuer, "name": name, "description": "Kurs", "image": (io.BytesIO(image), "x.gif")},
        content_type="multipart/form-data",
        headers=headers or {},
    )


def test_console_form_errors_in_polish_and_english(client, world, caplog):
    sign_in(client, "admin-a@example.org")
    issuer = world["a"]["issuer_pid"]
    with caplog.at_level(logging.INFO, logger="hub.web.admin.common"):
        pl = _new_badge(client, issuer, headers=PL)
    assert pl.status_code == 422
    page = pl.get_data(as_text=True)
    assert "Nie udało się zapisać: obraz musi być plikiem PNG lub SVG" in page
    assert 'value="Sędzia"' in page  # the form keeps its input
    # The log line is English whatever the page's language, so operators can grep it.
    logged = [r.getMessage() for r in caplog.records if r.name == "hub.web.admin.common"]
    assert logged and "the image must be a PNG or an SVG file" in logged[-1] and "obraz" not in logged[-1]
    en = _new_badge(client, issuer, headers=EN).get_data(as_text=True)
    assert "Could not save: the image must be a PNG or an SVG file" in en
    empty = _new_badge(client, issuer, name="", image=badge_png(), headers=PL).get_data(as_text=True)
    assert "Nie udało się zapisać: pole „nazwa” jest wymagane" in empty
    empty = _new_badge(client, issuer, name="", image=badge_png(), headers=EN).get_data(as_text=True)
    assert "Could not save: name is required" in empty
    chosen = _new_badge(client, issuer, name="", image=badge_png(), headers=PL)
    assert chosen.status_code == 422
    bad_days = post_form(
        client,
        "/admin/badges/new?lang=en",
        {
            "issuer": issuer,
            "name": "X",
            "description": "Y",
            "expires_after_days": "many",
            "image": (io.BytesIO(badge_png()), "b.png"),
        },
        content_type="multipart/form-data",
        headers=PL,
    ).get_data(as_text=True)
    assert "Give a whole number of days, 1 or more." in bad_days  # ?lang= wins over Accept-Language


def test_error_pages_speak_the_readers_language(client, world):
    sign_in(client, "admin-a@example.org")
    pl = client.get("/admin/badges/0d7c1a5e-0000-4000-8000-000000000000", headers=PL)
    assert pl.status_code == 404 and pl.headers["Content-Language"] == "pl"
    assert "Nie znaleziono" in pl.get_data(as_text=True) and "nie ma takiego obiektu (odznaka)" in pl.get_data(
        as_text=True
    )
    en = client.get("/admin/no-such-page", headers=EN)
    assert en.status_code == 404 and "There is nothing at this address" in en.get_data(as_text=True)
    assert "Accept-Language" in en.headers["Vary"]


def test_api_problem_detail_follows_the_request_language(client, ctx, world, caplog):
    auth = _token(ctx, "admin-a@example.org")
    body = {
        "issuer": world["a"]["issuer_pid"],
        "name": "Pływak",
        "description": "25 m",
        "image": base64.b64encode(GIF).decode(),
    }
    with caplog.at_level(logging.WARNING, logger="hub.web.errors"):
        pl = client.post("/api/v1/badge-classes", headers={**auth, **PL}, json=body)
    assert pl.status_code == 422 and pl.mimetype == "application/problem+json"
    doc = pl.get_json()
    assert doc["detail"] == "obraz musi być plikiem PNG lub SVG" and doc["title"] == "Nieprawidłowy obraz"
    assert doc["type"].endswith("/problems/invalid-image") and pl.headers["Content-Language"] == "pl"
    assert "the image must be a PNG or an SVG file" in caplog.records[-1].getMessage()  # the log stays English
    en = client.post("/api/v1/badge-classes", headers={**auth, **EN}, json=body).get_json()
    assert en["detail"] == "the image must be a PNG or an SVG file" and en["title"] == "Invalid image"
    assert en["type"] == doc["type"]  # the problem type never changes with the language
    chosen = client.post("/api/v1/badge-classes?lang=en", headers={**auth, **PL}, json=body).get_json()
    assert chosen["detail"] == "the image must be a PNG or an SVG file"
    default = client.post("/api/v1/badge-classes", headers=auth, json=body)
    assert default.headers["Content-Language"] == "pl"  # no preference: HUB_DEFAULT_LOCALE
    # A field error keeps its machine-readable member; only the message is translated.
    png = base64.b64encode(badge_png()).decode()
    unnamed = client.post("/api/v1/badge-classes", headers={**auth, **PL}, json={**body, "name": " ", "image": png})
    unnamed = unnamed.get_json()
    assert unnamed["field"] == "name" and unnamed["detail"] == "pole „nazwa” jest wymagane"


def test_api_follows_the_token_users_language_setting(client, ctx, world):
    with ctx.db.session_scope() as s:
        accounts.set_locale(s, s.query(User).filter_by(email="admin-a@example.org").one(), "en")
    auth = _token(ctx, "admin-a@example.org")
    missing = client.get("/api/v1/badge-classes/0d7c1a5e-0000-4000-8000-000000000000", headers={**auth, **PL})
    assert missing.status_code == 404
    assert missing.get_json()["detail"] == "no such badge"  # the user's setting beats Accept-Language
    asked = client.get("/api/v1/badge-classes/0d7c1a5e-0000-4000-8000-000000000000?lang=pl", headers=auth)
    assert asked.get_json()["detail"] == "nie ma takiego obiektu (odznaka)"  # ?lang= beats the setting


def test_framework_import_errors_keep_their_lines_and_translate(client):
    auth = {"Authorization": "Bearer admin-token", "Content-Type": "text/csv"}
    header = "conceptType,conceptUri,skillType,reuseLevel,preferredLabel\n"
    rows = "KnowledgeSkillCompetence,http://data.europa.eu/esco/skill/a,knowledge,,one\n"
    rows += "KnowledgeSkillCompetence,http://data.europa.eu/esco/skill/b,knowledge,,\n"  # line 3: no label
    url = "/api/v1/frameworks/import/esco?kind=skills&language=en"
    pl = client.post(url, data=(header + rows).encode(), headers={**auth, **PL})
    assert pl.status_code == 422
    doc = pl.get_json()
    assert doc["type"].endswith("/problems/import-refused") and doc["title"] == "Import odrzucony"
    assert doc["errors"] == [{"where": "line 3", "message": "preferredLabel jest puste"}]
    assert doc["detail"] == "ESCO skills (en): błędnych wierszy: 1; niczego nie zaimportowano"
    en = client.post(url, data=(header + rows).encode(), headers={**auth, **EN}).get_json()
    assert en["errors"] == [{"where": "line 3", "message": "preferredLabel is empty"}]
    assert en["detail"] == "ESCO skills (en): invalid rows: 1; nothing was imported"


def test_bulk_award_errors_are_stored_once_and_read_in_either_language(client, ctx, world):
    sign_in(client, "staff-a@example.org")
    csv_text = "email,name,badge\nok@example.org,Ok,Zażółć gęślą jaźń\nnot-an-email,X,Zażółć gęślą jaźń\n"
    csv_text += "x@example.org,X,Nie ma takiej\n"
    r = post_form(
        client,
        "/admin/bulk",
        {"issuer": world["a"]["issuer_pid"], "file": (io.BytesIO(csv_text.encode()), "ludzie.csv")},
        content_type="multipart/form-data",
        headers=PL,
    )
    assert r.status_code == 302
    with ctx.db.session_scope() as s:
        job = s.query(BulkJob).filter_by(filename="ludzie.csv").one()
        assert [e["line"] for e in job.errors] == [3, 4]
        assert job.errors[1]["error"] == {
            "msgid": "no badge '%(badge)s' at this issuer",
            "vars": {"badge": "Nie ma takiej"},
        }
    pl = client.get(r.headers["Location"], headers=PL).get_data(as_text=True)
    assert "<td>3</td><td>to nie jest adres e-mail: „not-an-email”</td>" in pl.replace("&#34;", '"')
    assert "ten wystawca nie ma odznaki „Nie ma takiej”" in pl
    en = client.get(r.headers["Location"], headers=EN).get_data(as_text=True)
    assert "no badge &#39;Nie ma takiej&#39; at this issuer" in en
    bad = post_form(
        client,
        "/admin/bulk",
        {"issuer": world["a"]["issuer_pid"], "file": (io.BytesIO(b"name\nX\n"), "zle.csv")},
        content_type="multipart/form-data",
        headers=PL,
    )
    assert bad.status_code == 422
    assert "Nie udało się odczytać pliku: w wierszu nagłówka brakuje: email, badge" in bad.get_data(as_text=True)


def test_event_failure_reason_is_stored_in_english_and_shown_translated(client, ctx, world):
    assert post_event(client, completion(email="c@example.org", idnumber="NOPE"), slug="lms-a").status_code == 202
    with ctx.db.session_scope() as s:
        event = s.query(InboundEvent).filter_by(status="failed").one()
        assert (
            event.reason
            == 'Event cannot be processed: no award rule matches event type "course_completed" and key "NOPE"'
        )
        assert event.history[-1]["message"]["msgid"] == "%(title)s: %(detail)s"
        event_id = event.public_id
    sign_in(client, "admin-a@example.org")
    pl = client.get(f"/admin/events/{event_id}", headers=PL).get_data(as_text=True).replace("&#34;", '"')
    assert (
        "Nie można przetworzyć zdarzenia: żadna reguła nagradzania nie pasuje do typu zdarzenia "
        "„course_completed” i klucza „NOPE”" in pl
    )
    history = pl.split("<h2>")[-2]  # the processing history table (before "Payload"): times localised too
    assert re.search(r'<td><time datetime="[^"]+">[^<]+</time></td>', history)
    assert not re.search(r">\d{4}-\d\d-\d\dT", history)  # no raw ISO timestamp shown to people
    listing = client.get("/admin/events?status=failed", headers=PL).get_data(as_text=True)
    assert "żadna reguła nagradzania nie pasuje" in listing
    en = client.get(f"/admin/events/{event_id}", headers=EN).get_data(as_text=True)
    assert "Event cannot be processed: no award rule matches event type" in en
    api = client.get(f"/api/v1/events/{event_id}", headers={"Authorization": "Bearer admin-token", **PL}).get_json()
    assert api["reason"].startswith("Event cannot be processed: no award rule")  # stored data: English


def test_users_language_setting_drives_pages_and_emails(client, ctx, world):
    sign_in(client, "admin-a@example.org")
    account = client.get("/admin/account", headers=PL).get_data(as_text=True)
    assert 'name="locale"' in account and "Język konsoli" in account
    saved = post_form(client, "/admin/account/language", {"locale": "en"}, headers=PL, follow_redirects=True)
    assert "Saved." in saved.get_data(as_text=True)  # already in the new language
    assert "Awards per week" in client.get("/admin/", headers=PL).get_data(as_text=True)
    with ctx.db.session_scope() as s:
        assert s.query(User).filter_by(email="admin-a@example.org").one().locale == "en"
        assert s.query(AuditEntry).filter_by(action="user.update").count() == 1
    refused = post_form(client, "/admin/account/language", {"locale": "de"}, follow_redirects=True)
    assert "Could not save: the language must be pl or en" in refused.get_data(as_text=True)
    # E-mails to the user follow the setting, whatever the language of the page that asked for them.
    client.post("/admin/logout", data={"csrf_token": csrf(client, "/admin/account")})
    outbox = mailer_for(ctx.settings).sent
    outbox.clear()
    token = csrf(client, "/admin/password/forgot")
    client.post("/admin/password/forgot", data={"email": "admin-a@example.org", "csrf_token": token}, headers=PL)
    assert outbox[-1].subject == "Badge Hub: reset your password" and outbox[-1].locale == "en"
    client.post("/admin/password/forgot", data={"email": "staff-a@example.org", "csrf_token": token}, headers=PL)
    assert outbox[-1].subject != "Badge Hub: reset your password" and outbox[-1].locale == "pl"  # no setting
    # Back to "as the browser says".
    sign_in(client, "admin-a@example.org")
    post_form(client, "/admin/account/language", {"locale": ""})
    assert "Nagrody w tygodniach" in client.get("/admin/", headers=PL).get_data(as_text=True)


def test_lazy_texts_reaching_the_database_are_stored_in_english(app, ctx, world):
    """Code that stores a service error's detail as it is (e.g. a sync run's error) gets English text,
    whatever the request's language, in a text column and in a JSON column."""
    from hub.i18n import lazy as _l
    from hub.i18n import number

    message = _l("limit must be between 1 and %(max)s", max=number(5000))
    with app.test_request_context("/", headers=PL):
        assert str(message) == "limit musi wynosić od 1 do 5\xa0000"
        with ctx.db.session_scope() as s:
            event = s.query(InboundEvent).first()
            event.reason = message
            event.history = [{"reason": message}]
            event_id = event.id
    with ctx.db.session_scope() as s:
        event = s.get(InboundEvent, event_id)
        assert event.reason == "limit must be between 1 and 5,000"
        assert event.history == [{"reason": "limit must be between 1 and 5,000"}]
