"""Input that cannot be stored is refused at the boundary (hub.web.boundary), never a 500: text that is
not valid Unicode in any JSON body or form field, and JSON bodies of the API that are valid JSON but not
an object. The API routes are enumerated from the app's url_map, so a new route is covered at once."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from hub import create_app
from hub.badges.models import Assertion, Issuer
from hub.inbox.models import InboundEvent
from hub.settings import Settings
from tests.conftest import completion, post_event, signed_headers
from tests.hub.web.conftest import csrf, sign_in

AUTH = {"Authorization": "Bearer admin-token", "Content-Type": "application/json", "Accept-Language": "en"}
NO_ID = "00000000-0000-4000-8000-000000000000"
WRITES = ("POST", "PUT", "PATCH")


def _api_write_routes() -> list[tuple[str, str, bool]]:
    """(method, rule, declares a JSON body) of every write route under /api/v1, from the url_map."""
    tmp = Path(tempfile.mkdtemp(prefix="hub-routes-"))
    app = create_app(
        Settings(
            instance_path=tmp,
            database_url=f"sqlite:///{tmp / 'unused.db'}",
            base_url="http://hub.test",
            secret_key="x",
            key_encryption_key=Fernet.generate_key().decode(),
            job_mode="sync",
        )
    )
    from hub.web.boundary import _json_schema

    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(set(rule.methods or ()) & set(WRITES)):
            handler = getattr(view.view_class, method.lower()) if hasattr(view, "view_class") else view
            routes.append((method, rule.rule, _json_schema(handler) is not None))
    app.extensions["hub.jobs"].shutdown()
    return routes


ROUTES = _api_write_routes()


def test_the_route_list_is_complete():
    assert len(ROUTES) >= 19 and sum(declared for *_, declared in ROUTES) >= 19
    assert ("POST", "/api/v1/awards", True) in ROUTES


def _problem(resp, status: int) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    return resp.get_json()


@pytest.mark.parametrize(("method", "rule", "declared"), ROUTES, ids=[f"{m} {r}" for m, r, _ in ROUTES])
def test_every_api_write_refuses_non_objects_and_invalid_unicode(client, method, rule, declared):
    path = re.sub(r"<[^>]+>", NO_ID, rule)
    for body in ("true", "5", "null", '["a"]', '"text"'):
        resp = client.open(path, method=method, data=body, headers=AUTH)
        assert resp.status_code < 500, (body, resp.get_data(as_text=True))
        if declared and not (body == '["a"]' and rule.endswith("/outcomes")):  # outcomes take a bare list too
            problem = _problem(resp, 422)
            assert problem["field"] == "body" and "must be an object" in problem["detail"], body
    for body, field in (
        ('{"name": "\\ud83c"}', "name"),
        ('{"items": [{"email": "a\\udc00b@example.org"}]}', "items.0.email"),
        ('{"\\ud83c": 1}', "\\ud83c"),
        ('"\\ud83c"', "body"),
    ):
        resp = client.open(path, method=method, data=body, headers=AUTH)
        if not declared:  # a route without a JSON body never reads it (an import checks its own bytes)
            assert resp.status_code < 500, resp.get_data(as_text=True)
            continue
        problem = _problem(resp, 422)
        assert problem["field"] == field and "not valid Unicode" in problem["detail"], body


def test_an_award_with_a_lone_surrogate_in_the_name_is_refused_and_stores_nothing(client, ctx, factory):
    info = factory.setup()
    body = json.dumps({"badge_class": info["badge"], "email": "ola@example.org", "name": "Ola \ud83c"})
    problem = _problem(client.post("/api/v1/awards", data=body, headers=AUTH), 422)
    assert problem["field"] == "name"
    assert (
        client.post("/api/v1/awards", data=body.replace("\\ud83c", "\\ud83c\\udf89"), headers=AUTH).status_code == 201
    )
    with ctx.db.session_scope() as s:
        assert [a.recipient_name for a in s.scalars(select(Assertion))] == ["Ola 🎉"]


def test_a_console_form_field_that_is_not_utf8_is_refused_by_name(client, world):
    sign_in(client, "admin-a@example.org")
    token = csrf(client, "/admin/account")
    body = f"csrf_token={token}&name=%ED%A0%BC&url=https%3A%2F%2Fx.example".encode()
    resp = client.post(
        f"/admin/issuers/{world['a']['issuer_pid']}?lang=en",
        data=body,
        content_type="application/x-www-form-urlencoded",
    )
    assert resp.status_code == 422 and "not valid Unicode" in resp.get_data(as_text=True)
    assert '"name"' in resp.get_data(as_text=True) or "&#34;name&#34;" in resp.get_data(as_text=True)
    # multipart: Werkzeug replaced the bytes by U+FFFD, the field is refused all the same
    multipart = client.post(
        f"/admin/issuers/{world['a']['issuer_pid']}?lang=en",
        data={"csrf_token": token, "name": "Szko\ufffdła"},
        content_type="multipart/form-data",
    )
    assert multipart.status_code == 422


def test_the_learner_sign_in_form_refuses_bytes_that_are_not_utf8(client):
    resp = client.post("/me/login", data=b"email=%ED%A0%BC%40x.org", content_type="application/x-www-form-urlencoded")
    assert resp.status_code == 422


# ---- webhooks --------------------------------------------------------------------------------------------


def _event(ctx, public_id: str) -> InboundEvent:
    with ctx.db.session_scope() as s:
        event = s.scalar(select(InboundEvent).where(InboundEvent.public_id == public_id))
        s.expunge(event)
        return event


def test_a_webhook_with_text_that_is_not_unicode_is_stored_as_failed_naming_the_field(client, ctx, factory):
    factory.setup()
    payload = completion()
    payload["data"]["user"]["fullname"] = "Zofia \ud83c"
    body = json.dumps(payload)  # ensure_ascii: the lone surrogate written as \ud83c
    assert "\\ud83c" in body
    resp = client.post("/hooks/lms", data=body, headers={**signed_headers(body), "Accept-Language": "en"})
    problem = _problem(resp, 422)
    assert problem["field"] == "data.user.fullname" and "not valid Unicode" in problem["detail"]
    event = _event(ctx, problem["event"])
    assert event.status == "failed" and "data.user.fullname" in event.reason and "internal" not in event.reason
    # replayable: it fails again with the same reason, not an internal error
    auth = {"Authorization": "Bearer admin-token"}
    assert client.post(f"/api/v1/events/{problem['event']}/replay", headers=auth).status_code == 202
    event = _event(ctx, problem["event"])
    assert event.status == "failed" and "data.user.fullname" in event.reason


def test_a_utf8_byte_order_mark_before_webhook_json_is_accepted(client, ctx, factory):
    factory.setup()
    text = json.dumps(completion(email="bom@example.org"), ensure_ascii=False)
    body = b"\xef\xbb\xbf" + text.encode()
    headers = signed_headers(body)
    resp = client.post("/hooks/lms", data=body, headers=headers)
    assert resp.status_code == 202, resp.get_data(as_text=True)
    event = _event(ctx, resp.get_json()["event"])
    assert event.status == "processed" and not event.body.startswith("\ufeff")
    with ctx.db.session_scope() as s:
        assert s.scalar(select(Assertion.recipient_plain)) == "bom@example.org"


def test_a_webhook_body_that_is_not_utf8_is_a_400(client, ctx, factory):
    factory.setup()
    import base64
    import hashlib
    import hmac
    import time

    from tests.conftest import SECRET

    body = b'{"type": "course_completed", "x": "\xed\xa0\xbc"}'  # a surrogate encoded as UTF-8 bytes
    msg_id, ts = "msg_not_utf8", str(int(time.time()))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "webhook-signature": "v1," + base64.b64encode(mac).decode(),
    }
    assert client.post("/hooks/lms", data=body, headers=headers).status_code == 400
    with ctx.db.session_scope() as s:
        assert s.scalar(select(InboundEvent)) is None


@pytest.mark.parametrize(
    ("mapping_field", "expression", "field"),
    [
        ("idempotency_key", "join('', ['a', data.nul])", "idempotency_key"),
        ("idempotency_key", "data.long", "idempotency_key"),
        ("key", "data.nul", "key"),
    ],
)
def test_events_that_can_never_be_processed_are_refused_at_intake(
    client, ctx, factory, mapping_field, expression, field
):
    from hub.demo import MOODLE_MAPPING

    factory.setup(mapping={**MOODLE_MAPPING, mapping_field: expression})
    payload = completion()
    payload["data"].update(nul="x\x00y", long="k" * 256)
    problem = _problem(post_event(client, payload), 422)
    assert problem["field"] == field
    event = _event(ctx, problem["event"])
    assert event.status == "failed"
    with ctx.db.session_scope() as s:
        assert s.scalar(select(Assertion)) is None
        assert s.scalar(select(Issuer)) is not None


# ---- streamed bodies over the limit ----------------------------------------------------------------------


def _chunked_post(app, path: str, body: bytes, headers: dict) -> tuple[int, dict]:
    """POST ``body`` with ``Transfer-Encoding: chunked`` (no Content-Length) over real HTTP."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(app.extensions["hub"].settings.base_url)
    conn = http.client.HTTPConnection(where.hostname, where.port, timeout=30)
    try:
        pieces = (body[i : i + 65536] for i in range(0, len(body), 65536))
        conn.request("POST", path, body=pieces, headers=headers, encode_chunked=True)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read() or b"{}")
    finally:
        conn.close()


def test_a_chunked_body_over_the_limit_is_a_413_and_one_within_it_is_read_whole(live_server):
    from tests.conftest import Factory

    ctx = live_server.extensions["hub"]
    Factory(ctx).setup()
    limit = ctx.settings.max_body_bytes
    big = json.dumps(completion(padding="x" * limit)).encode()
    status, problem = _chunked_post(live_server, "/hooks/lms", big, signed_headers(big))
    assert status == 413 and problem["status"] == 413  # not 401 from a signature over a truncated body
    status, _ = _chunked_post(live_server, "/api/v1/awards", b"[" + b" " * ctx.settings.max_upload_bytes + b"]", AUTH)
    assert status == 413
    small = json.dumps(completion(email="chunked@example.org")).encode()
    status, accepted = _chunked_post(live_server, "/hooks/lms", small, signed_headers(small))
    assert status == 202, accepted


def test_a_framework_import_with_text_that_is_not_unicode_is_refused_naming_the_place(ctx):
    import io

    from hub.frameworks import importers

    doc = {
        "identifier": "club-skills",
        "name": {"en": "Club skills", "pl": "Umiejętności klubowe"},
        "url": "https://club.example.pl",
        "descriptors": [{"code": "swim", "url": "https://club.example.pl/swim", "name": {"pl": "Pływanie \ud83c"}}],
    }
    with pytest.raises(importers.ImportRefused) as info, ctx.db.session_scope() as s:
        importers.import_custom_json(s, io.BytesIO(json.dumps(doc).encode()))
    assert info.value.errors[0].where == "descriptors.0.name.pl"
