"""Issuers choose their proofs: DID method, default proof format and VC-JWT algorithm, set through one
operation (``actions.set_credential_settings``) from the console, the API and the CLI, audited; a
client asking a did:key issuer for an algorithm its key cannot make gets a 4xx problem."""

from __future__ import annotations

import base64
import json

from hub.accounts.models import AuditEntry
from hub.cli import main
from hub.credentials.baking import unbake_png
from tests.hub.web.conftest import post_form, sign_in


def _payload(token: str) -> tuple[dict, dict]:
    h, p, _ = token.split(".")
    return (json.loads(base64.urlsafe_b64decode(h + "==")), json.loads(base64.urlsafe_b64decode(p + "==")))


def _audit(ctx) -> list[AuditEntry]:
    with ctx.db.session_scope() as s:
        rows = s.query(AuditEntry).filter_by(action="issuer.credential_settings").order_by(AuditEntry.id).all()
        s.expunge_all()
        return rows


def test_console_explains_and_saves_the_settings(client, ctx, world):
    a = world["a"]
    sign_in(client, "admin-a@example.org")
    page = client.get(f"/admin/issuers/{a['issuer_pid']}?lang=en").get_data(as_text=True)
    assert "Open Badges 3.0 credentials" in page and "did:key is the issuer's Ed25519 key itself" in page
    url = f"/admin/issuers/{a['issuer_pid']}/credential-settings"
    bad = post_form(client, url + "?lang=en", {"did_method": "key", "proof_format": "vc-jwt", "jwt_algorithm": "RS256"})
    body = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "must be EdDSA" in body
    assert 'value="vc-jwt" selected' in body  # the input is kept
    assert _audit(ctx) == []  # nothing half-written
    good = post_form(client, url, {"did_method": "key", "proof_format": "vc-jwt", "jwt_algorithm": "EdDSA"})
    assert good.status_code == 302
    page = client.get(f"/admin/issuers/{a['issuer_pid']}?lang=pl").get_data(as_text=True)
    assert "<code>did:key:z6Mk" in page and 'value="EdDSA" selected' in page
    (entry,) = _audit(ctx)
    assert entry.before == {"did_method": "web", "proof_format": "data-integrity", "jwt_algorithm": "RS256"}
    assert entry.after == {"did_method": "key", "proof_format": "vc-jwt", "jwt_algorithm": "EdDSA"}
    # the default format now: the baked credential (no ?format=) carries a VC-JWT from a did:key issuer
    baked = client.get(f"/credentials/{a['assertion']}/baked.png").data
    token = unbake_png(baked, "openbadgecredential")
    assert token.count(".") == 2 and token == client.get(f"/credentials/{a['assertion']}/jwt").get_data(as_text=True)
    header, claims = _payload(token)
    assert header["alg"] == "EdDSA" and claims["iss"].startswith("did:key:") and "sub" not in claims


def test_staff_cannot_change_them(client, world):
    sign_in(client, "staff-a@example.org")
    r = post_form(client, f"/admin/issuers/{world['a']['issuer_pid']}/credential-settings", {"did_method": "key"})
    assert r.status_code in (403, 404)


def test_api_reads_and_patches_them(client, ctx, world):
    a, b = world["a"], world["b"]
    auth = {"Authorization": f"Bearer {world['token_b']}"}
    url = f"/api/v1/issuers/{b['issuer_pid']}/credential-settings"
    got = client.get(url, headers=auth).get_json()
    assert got["did_method"] == "web" and got["issuer_id"].startswith("did:web:") and got["did_document"]
    r = client.patch(url, json={"jwt_algorithm": "ES256"}, headers=auth)
    assert r.status_code == 200 and r.get_json()["jwt_algorithm"] == "ES256"
    header, _ = _payload(client.get(f"/credentials/{b['assertion']}/jwt").get_data(as_text=True))
    assert header["alg"] == "ES256"
    # the DID document lists the default algorithm's key first (where JWT-only verifiers look)
    did = client.get(f"/issuers/{b['issuer_pid']}/did.json").get_json()
    assert did["verificationMethod"][0]["publicKeyJwk"]["kty"] == "EC"
    refusals = (
        ({"did_method": "key", "jwt_algorithm": "RS256"}, 422, "jwt_algorithm"),  # the body contradicts itself
        ({"proof_format": "pdf"}, 422, "proof_format"),
        ({"did_method": "key"}, 409, "did_method"),  # valid, but the stored algorithm (ES256) refuses it
    )
    for body, status, field in refusals:
        r = client.patch(url, json=body, headers=auth)
        assert r.status_code == status, r.get_json()
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert field in json.dumps(r.get_json())
    # the document says which bodies contradict themselves (JSON Schema if/then)
    rule = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["CredentialSettings"]
    assert rule["if"]["properties"]["did_method"] == {"const": "key"}
    assert rule["then"]["properties"]["jwt_algorithm"] == {"const": "EdDSA"}
    # another issuer's settings are not B's to see
    assert client.get(f"/api/v1/issuers/{a['issuer_pid']}/credential-settings", headers=auth).status_code == 404
    assert [e.after["jwt_algorithm"] for e in _audit(ctx)] == ["ES256"]


def test_did_key_issuer_asked_for_another_algorithm_answers_422(client, ctx, world):
    b = world["b"]
    auth = {"Authorization": f"Bearer {world['token_b']}"}
    url = f"/api/v1/issuers/{b['issuer_pid']}/credential-settings"
    assert client.patch(url, json={"did_method": "key", "jwt_algorithm": "EdDSA"}, headers=auth).status_code == 200
    for alg in ("RS256", "ES256"):
        r = client.get(f"/credentials/{b['assertion']}/jwt?alg={alg}")
        assert r.status_code == 422, r.get_data(as_text=True)
        problem = r.get_json()
        assert problem["field"] == "alg" and "EdDSA" in problem["detail"]
    r = client.get(f"/credentials/{b['assertion']}/jwt?alg=HS256")
    assert r.status_code == 422
    assert client.get(f"/credentials/{b['assertion']}/jwt?alg=EdDSA").status_code == 200


def test_cli_shows_and_changes_them(app, ctx, world):
    runner = app.test_cli_runner()
    pid = world["a"]["issuer_pid"]
    shown = runner.invoke(main, ["issuers", "credential-settings", pid])
    assert shown.exit_code == 0 and "did_method: web" in shown.output
    refused = runner.invoke(main, ["issuers", "credential-settings", pid, "--did-method", "key"])
    assert refused.exit_code == 1 and "must be EdDSA" in refused.output
    done = runner.invoke(
        main, ["issuers", "credential-settings", pid, "--did-method", "key", "--jwt-algorithm", "EdDSA"]
    )
    assert done.exit_code == 0, done.output
    assert "issuer_id: did:key:z6Mk" in done.output and "did_document: -" in done.output
    (entry,) = _audit(ctx)
    assert entry.after["did_method"] == "key"
