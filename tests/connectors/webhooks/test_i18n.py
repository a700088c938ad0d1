"""Webhook problems in the sender's language (``Accept-Language``), a failed event's reason stored in
English and shown in the reader's language in the console, log lines in English. SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging

from hub.inbox.models import InboundEvent
from tests.conftest import completion, signed_headers
from tests.hub.web.conftest import sign_in

PL = {"Accept-Language": "pl-PL,pl;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.8"}


def _problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    return resp.get_json()


def test_signature_problems_follow_the_senders_language(client, world, caplog):
    body = json.dumps(completion())
    unsigned = {"content-type": "application/json"}
    with caplog.at_level(logging.WARNING, logger="hub.web.errors"):
        pl = client.post("/hooks/lms-a", data=body, headers={**unsigned, **PL})
    doc = _problem(pl, 401)
    assert doc["title"] == "Nieprawidłowy podpis" and pl.headers["Content-Language"] == "pl"
    assert doc["detail"] == "brak nagłówków: webhook-id, webhook-timestamp, webhook-signature"
    assert doc["headers"] == ["webhook-id", "webhook-timestamp", "webhook-signature"]  # machine member unchanged
    assert "missing header(s): webhook-id" in caplog.records[-1].getMessage()  # the log stays English
    en = _problem(client.post("/hooks/lms-a", data=body, headers={**unsigned, **EN}), 401)
    assert en["title"] == "Invalid signature"
    assert en["detail"] == "missing header(s): webhook-id, webhook-timestamp, webhook-signature"
    assert en["type"] == doc["type"]

    wrong = {**signed_headers(body), "webhook-signature": "v1,AAAA"}
    pl = _problem(client.post("/hooks/lms-a", data=body, headers={**wrong, **PL}), 401)
    assert pl["detail"].startswith("żaden podpis nie pasuje (sprawdź sekret")
    text = {**signed_headers(body), "content-type": "text/plain"}
    pl = _problem(client.post("/hooks/lms-a", data=body, headers={**text, **PL}), 415)
    assert pl["detail"] == "wyślij zdarzenie jako application/json (Content-Type: text/plain)"


def test_unmappable_event_is_refused_in_the_senders_language_and_shown_translated(client, ctx, world, caplog):
    body = json.dumps(completion(email=""), ensure_ascii=False)
    with caplog.at_level(logging.WARNING, logger="connectors.webhooks"):
        pl = client.post("/hooks/lms-a", data=body.encode(), headers={**signed_headers(body), **PL})
    doc = _problem(pl, 422)
    assert doc["title"] == "Nie można przetworzyć zdarzenia"
    assert doc["detail"] == "treść nie zawiera adresu e-mail odbiorcy w miejscu „data.user.email”"
    assert doc["field"] == "recipient_email" and doc["event_status"] == "failed"
    logged = [r.getMessage() for r in caplog.records if r.name == "connectors.webhooks.views"]
    assert logged and 'the payload has no recipient e-mail at "data.user.email"' in logged[-1]
    en = client.post("/hooks/lms-a", data=body.encode(), headers={**signed_headers(body), **EN})
    assert _problem(en, 422)["detail"] == 'the payload has no recipient e-mail at "data.user.email"'

    expected = 'Event cannot be processed: the payload has no recipient e-mail at "data.user.email"'
    with ctx.db.session_scope() as s:
        event = s.query(InboundEvent).filter_by(public_id=doc["event"]).one()
        assert event.status == "failed" and event.reason == expected  # stored in English
        assert event.history[-1]["message"]["msgid"] == "%(title)s: %(detail)s"
    sign_in(client, "admin-a@example.org")
    page = client.get(f"/admin/events/{doc['event']}", headers=PL).get_data(as_text=True).replace("&#34;", '"')
    assert (
        "Nie można przetworzyć zdarzenia: treść nie zawiera adresu e-mail odbiorcy w miejscu „data.user.email”" in page
    )
    listing = client.get("/admin/events?status=failed", headers=PL).get_data(as_text=True)
    assert "treść nie zawiera adresu e-mail odbiorcy" in listing
    page = client.get(f"/admin/events/{doc['event']}", headers=EN).get_data(as_text=True).replace("&#34;", '"')
    assert expected in page
    api = client.get(f"/api/v1/events/{doc['event']}", headers={"Authorization": "Bearer admin-token", **PL})
    assert api.get_json()["reason"] == expected  # the API gives the stored record: English


def test_a_refused_mapping_is_explained_in_the_readers_language(client, world):
    from tests.hub.web.conftest import post_form

    sign_in(client, "admin-a@example.org")
    form = {
        "issuer": world["a"]["issuer_pid"],
        "slug": "crm",
        "name": "CRM",
        "mapping": json.dumps({"recipient_email": "user.email", "colour": "x"}),
    }
    pl = post_form(client, "/admin/connectors/new", form, headers=PL)
    assert pl.status_code == 422
    assert "Nie udało się zapisać: nieznane pola mapowania: colour" in pl.get_data(as_text=True)
    form["mapping"] = json.dumps({"recipient_email": "user.email"})
    pl = post_form(client, "/admin/connectors/new", form, headers=PL).get_data(as_text=True)
    assert "Nie udało się zapisać: mapowanie musi zawierać pole „event_type”" in pl.replace("&#34;", '"')
    en = post_form(client, "/admin/connectors/new", form, headers=EN).get_data(as_text=True)
    assert "Could not save: the mapping needs &#34;event_type&#34;" in en
