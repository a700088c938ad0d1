"""The JSON API: tokens and scopes, the bootstrap token, problem JSON, pagination, the main operations,
and the OpenAPI document."""

from __future__ import annotations

import base64
import io

from hub.accounts import services as accounts
from hub.accounts.models import User
from hub.demo import badge_png


def _token(ctx, email: str, scope: str) -> dict:
    with ctx.db.session_scope() as s:
        user = s.query(User).filter_by(email=email).one()
        return {"Authorization": f"Bearer {accounts.create_api_token(s, user, name=scope, scope=scope)[1]}"}


def test_tokens_scopes_and_errors(client, ctx, world):
    read = _token(ctx, "admin-a@example.org", "read")
    award = _token(ctx, "staff-a@example.org", "award")
    a = world["a"]
    assert client.get("/api/v1/awards", headers={"Authorization": "Bearer bh_x_y"}).status_code == 401
    assert client.get("/api/v1/awards", headers=read).status_code == 200
    refused = client.post(f"/api/v1/awards/{a['assertion']}/revoke", headers=read, json={"reason": "x"})
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json"
    assert refused.get_json()["type"].endswith("/problems/forbidden")
    bad = client.post("/api/v1/awards", headers=award, json={"badge_class": a["badge"], "email": "nope"})
    assert bad.status_code == 422 and "email" in str(bad.get_json()["errors"])
    missing = client.post("/api/v1/awards", headers={**award, "Accept-Language": "pl"}, json={"email": "a@b.pl"})
    assert missing.get_json()["errors"]["json"]["badge_class"] == ["Brak danych w wymaganym polu."]
    missing = client.post("/api/v1/awards?lang=en", headers=award, json={"email": "a@b.pl"})
    assert missing.get_json()["errors"]["json"]["badge_class"] == ["Missing data for required field."]
    made = client.post(
        "/api/v1/awards",
        headers=award,
        json={"badge_class": a["badge"], "email": "new@example.org", "source_key": "k1"},
    )
    assert made.status_code == 201 and made.get_json()["created"] is True
    again = client.post(
        "/api/v1/awards",
        headers=award,
        json={"badge_class": a["badge"], "email": "new@example.org", "source_key": "k1"},
    )
    assert again.status_code == 200 and again.get_json()["id"] == made.get_json()["id"]
    revoked = client.post(f"/api/v1/awards/{made.get_json()['id']}/revoke", headers=award, json={"reason": "x"})
    assert revoked.status_code == 200 and revoked.get_json()["revoked"] is True
    assert client.get(f"/api/v1/connectors/{a['connector_id']}", headers=award).status_code == 403  # staff


def test_bootstrap_token_acts_as_site_admin(client):
    auth = {"Authorization": "Bearer admin-token"}
    image = base64.b64encode(badge_png()).decode()
    issuer = client.post("/api/v1/issuers", headers=auth, json={"name": "Klub", "url": "https://klub.example"})
    assert issuer.status_code == 201
    badge = client.post(
        "/api/v1/badge-classes",
        headers=auth,
        json={"issuer": issuer.get_json()["id"], "name": "Pływak", "description": "25 m", "image": image},
    )
    assert badge.status_code == 201
    connector = client.post(
        "/api/v1/connectors",
        headers=auth,
        json={
            "issuer": issuer.get_json()["id"],
            "slug": "basen",
            "name": "Basen",
            "mapping": {"recipient_email": "email", "event_type": "type", "idempotency_key": "id"},
            "example": {"id": "1", "type": "swim", "email": "ola@example.org"},
        },
    )
    assert connector.status_code == 201 and connector.get_json()["secret"].startswith("whsec_")
    cid = connector.get_json()["id"]
    rule = client.post(
        "/api/v1/rules",
        headers=auth,
        json={"connector": cid, "badge_class": badge.get_json()["id"], "event_type": "swim"},
    )
    assert rule.status_code == 201
    event = client.post(f"/api/v1/connectors/{cid}/test-event", headers=auth, json={})
    assert event.status_code == 202
    detail = client.get(f"/api/v1/events/{event.get_json()['id']}", headers=auth).get_json()
    assert detail["status"] == "processed"
    dry = client.post(f"/api/v1/events/{detail['id']}/dry-run", headers=auth).get_json()
    assert dry["badge_classes"] == [badge.get_json()["id"]]
    rotated = client.post(f"/api/v1/connectors/{cid}/rotate-secret", headers=auth).get_json()
    assert rotated["secrets"] == 2 and rotated["secret"] != connector.get_json()["secret"]
    assert client.post(f"/api/v1/connectors/{cid}/end-rotation", headers=auth).get_json()["secrets"] == 1
    assert "secret" not in client.get(f"/api/v1/connectors/{cid}", headers=auth).get_json()


def test_pagination_is_keyset(client, ctx, world):
    auth = {"Authorization": "Bearer admin-token"}
    first = client.get("/api/v1/awards?limit=1", headers=auth).get_json()
    second = client.get(f"/api/v1/awards?limit=1&cursor={first['next']}", headers=auth).get_json()
    assert first["next"] and second["next"] is None
    assert first["items"][0]["id"] != second["items"][0]["id"]
    assert client.get("/api/v1/awards?limit=0", headers=auth).status_code == 422
    assert client.get("/api/v1/awards?cursor=nope", headers=auth).status_code == 422


def test_openapi_document(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1") and doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path in (
        "/api/v1/issuers",
        "/api/v1/badge-classes",
        "/api/v1/awards",
        "/api/v1/awards/batch",
        "/api/v1/connectors",
        "/api/v1/rules",
        "/api/v1/events",
        "/api/v1/events/{event_id}/replay",
    ):
        assert path in doc["paths"], path


def test_nul_characters_are_refused_not_stored(client, world):
    """PostgreSQL text cannot hold NUL: found by the schemathesis run (503 from a DataError before)."""
    auth = {"Authorization": "Bearer admin-token"}
    assert client.get("/api/v1/events?connector=a%00b", headers=auth).status_code == 422
    assert client.get("/api/v1/awards?cursor=a%00b", headers=auth).status_code == 422
    assert client.get("/api/v1/issuers/a%00b", headers=auth).status_code == 404
    body = {"badge_class": world["a"]["badge"], "email": "x@example.org", "source_key": "a\x00b"}
    assert client.post("/api/v1/awards", headers=auth, json=body).status_code == 422


def test_nul_characters_in_a_console_form_get_a_readable_refusal(client, world):
    from tests.hub.web.conftest import post_form, sign_in

    sign_in(client, "admin-a@example.org")
    refused = post_form(client, f"/admin/issuers/{world['a']['issuer_pid']}?lang=en", {"name": "a\x00b"})
    assert refused.status_code == 400 and "NUL character (U+0000)" in refused.get_data(as_text=True)


def test_json_nested_too_deeply_is_a_400_not_a_500(client, factory):
    """Python's JSON decoder recurses per nesting level: 5,000 levels (a 10 KB body) exhaust it. The API
    and webhook intake answer 400 problem JSON, a framework import 422 with the reason, and nothing is
    stored."""
    from tests.conftest import signed_headers

    factory.setup()
    deep = "[" * 5000 + "1" + "]" * 5000
    auth = {"Authorization": "Bearer admin-token", "Content-Type": "application/json"}
    for path in ("/api/v1/badge-classes", "/api/v1/awards", "/api/v1/issuers"):
        response = client.post(path, headers=auth, data=deep)
        assert response.status_code == 400, path
        assert response.mimetype == "application/problem+json"
    body = '{"a":' * 5000 + "1" + "}" * 5000
    imported = client.post(
        "/api/v1/frameworks/import?identifier=x&name_en=X&name_pl=X&lang=en", headers=auth, data=body
    )
    assert imported.status_code == 422 and "nested too deeply" in str(imported.get_json()["errors"])
    headers = {**signed_headers(body), "Content-Type": "application/json", "Accept-Language": "en"}
    hook = client.post("/hooks/lms", data=body, headers=headers)
    assert hook.status_code == 400 and "nested too deeply" in hook.get_json()["detail"]


def test_an_image_up_to_the_image_limit_fits_in_console_and_api_requests(client, world):
    """HUB_MAX_IMAGE_BYTES is larger than HUB_MAX_BODY_BYTES: a console upload or an API body carrying
    such an image (base64) is accepted up to the image limit; beyond it the 413 names the limit."""
    from tests.hub.web.conftest import post_form, sign_in

    settings = client.application.extensions["hub"].settings
    padding = b"\x00" * (settings.max_body_bytes + 1000)  # over the webhook limit, under the image limit
    big = badge_png()[:-12] + padding + badge_png()[-12:]  # trailing bytes after IEND are not an image part
    sign_in(client, "admin-a@example.org")
    page = post_form(
        client,
        f"/admin/issuers/{world['a']['issuer_pid']}?lang=en",
        {"name": "Szkoła", "url": "https://szkola.example", "image": (io.BytesIO(big), "logo.png")},
        content_type="multipart/form-data",
    )
    assert page.status_code != 413
    huge = b"\x00" * (settings.max_upload_bytes + 1)
    too_big = post_form(
        client,
        f"/admin/issuers/{world['a']['issuer_pid']}?lang=en",
        {"image": (io.BytesIO(huge), "logo.png")},
        content_type="multipart/form-data",
    )
    assert too_big.status_code == 413
    assert f"larger than {round(settings.max_upload_bytes / 1048576, 1)} MB" in too_big.get_data(as_text=True)
