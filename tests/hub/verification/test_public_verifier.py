"""The public verifier: ``/verify`` (HTML, no account, Polish/English) and ``POST /api/v1/verify`` (JSON,
in the OpenAPI document); rate limited, size limited, storing nothing."""

from __future__ import annotations

import base64
import io

import requests
from sqlalchemy import func, select

from hub.db import Base
from tests.hub.verification.support import EMAIL, award_one

HTML = {"Accept": "text/html"}


def _rows(ctx) -> int:
    with ctx.db.session_scope() as s:
        # the shared rate-limit counters (hub.ratelimit) count requests, not what was given: left out
        tables = [t for t in Base.metadata.sorted_tables if t.name != "rate_limit_counter"]
        return sum(s.scalar(select(func.count()).select_from(t)) for t in tables)


def _allow_loopback(app):
    ctx = app.extensions["hub"]
    object.__setattr__(ctx, "settings", ctx.settings.with_(verify_allow_private_hosts=True))


def test_verify_page_and_api_show_each_check_in_both_languages(live_server):
    ctx = live_server.extensions["hub"]
    _allow_loopback(live_server)
    aid = award_one(live_server)
    base = ctx.urls.base
    png = requests.get(ctx.urls.assertion_baked(aid), timeout=10).content
    before = _rows(ctx)
    page = requests.post(
        f"{base}/verify?lang=pl", files={"file": ("b.png", png)}, data={"email": EMAIL}, headers=HTML, timeout=30
    )
    assert page.status_code == 200
    assert 'data-verdict="valid"' in page.text and "Ważna" in page.text
    assert 'data-check="recipient" data-status="passed"' in page.text and "Odbiorca" in page.text
    en = requests.post(
        f"{base}/verify?lang=en",
        data={"url": ctx.urls.assertion(aid), "email": "x@example.org"},
        headers=HTML,
        timeout=30,
    )
    assert 'data-verdict="invalid"' in en.text and "issued to someone else" in en.text
    answer = requests.post(
        f"{base}/api/v1/verify", json={"data": base64.b64encode(png).decode(), "email": EMAIL}, timeout=30
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["verdict"] == "valid" and {c["name"] for c in body["checks"]} >= {"unbake", "hosted", "recipient"}
    assert all(set(c) == {"name", "title", "status", "code", "reason"} for c in body["checks"])
    pl = requests.post(f"{base}/api/v1/verify?lang=pl", json={"text": "nie odznaka"}, timeout=30).json()
    assert pl["verdict"] == "invalid" and pl["title"] == "Nieważna"
    assert _rows(ctx) == before  # nothing stored


def test_api_is_documented_public_size_limited_and_rate_limited(client, ctx):
    spec = client.get("/api/v1/openapi.json").get_json()
    op = spec["paths"]["/api/v1/verify"]["post"]
    assert op["security"] == [] and "requestBody" in op
    r = client.post("/api/v1/verify", json={"data": "not base64!"})
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    big = base64.b64encode(b"x" * (ctx.settings.verify_max_bytes + 10)).decode()
    r = client.post("/api/v1/verify", json={"data": big})
    assert r.status_code in (413, 200)
    if r.status_code == 200:
        assert r.get_json()["checks"][0]["code"] == "too-large"
    huge = client.post(
        "/verify", data={"file": (io.BytesIO(b"x" * (ctx.settings.verify_max_bytes * 2)), "b.png")}, headers=HTML
    )
    assert huge.status_code == 413
    statuses = [client.post("/api/v1/verify", json={"text": "{}"}).status_code for _ in range(25)]
    assert 429 in statuses and statuses[0] == 200
    limited = client.post("/api/v1/verify", json={"text": "{}"})
    assert limited.status_code == 429 and limited.mimetype == "application/problem+json"


def test_empty_form_is_a_readable_error(client):
    r = client.post("/verify", data={}, headers=HTML)
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="verify-error"' in page and 'id="verify-form"' in page  # the form again


def test_the_verifiers_own_size_limit_holds_not_the_apps(client, ctx):
    """A badge between ``HUB_MAX_BODY_BYTES`` and ``HUB_VERIFY_MAX_BYTES`` is verified, not refused as
    too large by the app-wide limit (the boundary reads bodies before the blueprints' hooks run)."""
    size = (ctx.settings.max_body_bytes + ctx.settings.verify_max_bytes) // 2
    assert ctx.settings.max_body_bytes < size < ctx.settings.verify_max_bytes
    r = client.post("/api/v1/verify", json={"text": " " * size + "{}"})
    assert r.status_code == 200, r.get_data(as_text=True)[:200]
    r = client.post("/verify", data={"file": (io.BytesIO(b"x" * size), "b.png")}, headers=HTML)
    assert r.status_code == 200 and 'data-verdict="invalid"' in r.get_data(as_text=True)


def test_api_errors_name_the_api_field_in_the_request_language(client):
    r = client.post("/api/v1/verify", json={"text": "x", "email": "😀@😀.pl"})
    assert r.status_code == 422 and r.get_json()["field"] == "email", r.get_json()
    r = client.post("/api/v1/verify", json={"text": "a\u0000"}, headers={"Accept-Language": "pl"})
    assert r.status_code == 422 and "NUL" in r.get_data(as_text=True) and "must not" not in r.get_data(as_text=True)
