"""The JSON API agrees with its own OpenAPI document: schemathesis, in-process (WSGI), every phase it has
(examples, coverage, fuzzing, stateful) and every check (not_a_server_error, status_code_conformance,
content_type_conformance, response_headers_conformance, response_schema_conformance,
negative_data_rejection, positive_data_acceptance, missing_required_header, unsupported_method,
ignored_auth, use_after_free, ensure_resource_availability, ...), with a fixed seed and a CI-sized
budget, against a real database (SQLite file and PostgreSQL) and a site administrator's API token.

The run is :func:`bench.schemathesis_run.run`; ``bench/schemathesis_run.py`` is the same with a larger
budget (``HUB_SCHEMATHESIS_EXAMPLES`` sets this one's, per operation and phase). The smaller tests below
pin the contract's pieces one by one, so a failure of the big run has a named place to look.
"""

from __future__ import annotations

import os

import pytest

from bench.schemathesis_run import populate, run

EXAMPLES = int(os.environ.get("HUB_SCHEMATHESIS_EXAMPLES", "5"))
SEED = 4242


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # once: PostgreSQL doubles the time, not the finds
def test_the_api_agrees_with_its_openapi_document(app, ctx, client):
    token = populate(ctx, client)
    outcome = run(app, token=token, seed=SEED, max_examples=EXAMPLES)
    print(outcome.report(show=5))
    assert outcome.cases > 500, outcome.report()
    ran = {phase for phase, status in outcome.phases.items() if not status.startswith("skipped")}
    assert {"examples", "coverage", "fuzzing", "stateful"} <= ran, outcome.phases
    assert not outcome.total, outcome.report(show=10)


# ---- the pieces --------------------------------------------------------------------------------------

AUTH = {"Authorization": "Bearer admin-token"}


def test_errors_are_documented_as_problem_json(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    problem = doc["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance"} <= set(problem["required"])
    for name, response in doc["components"]["responses"].items():
        if "content" in response:
            assert list(response["content"]) == ["application/problem+json"], name
    patch = doc["paths"]["/api/v1/issuers/{issuer_id}"]["patch"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "415", "422", "default"} <= set(patch)
    listing = doc["paths"]["/api/v1/issuers"]["get"]["responses"]
    assert {"401", "403", "422"} <= set(listing) and "415" not in listing
    assert doc["components"]["responses"]["UNAUTHORIZED"]["headers"]["WWW-Authenticate"]


def test_text_urls_and_cursors_say_what_the_code_refuses(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    issuer = schemas["IssuerIn"]["properties"]
    assert issuer["name"]["pattern"] == "^[^\\u0000]*$"
    assert issuer["url"]["pattern"].startswith("^https?://")
    assert issuer["image"]["contentEncoding"] == "base64"
    platform_issuer = schemas["RegistrationIn"]["properties"]["issuer"]
    assert platform_issuer["pattern"].startswith("^https?://") and "localhost" in platform_issuer["description"]


def test_an_undeclared_method_answers_405_with_allow(client):
    r = client.put("/api/v1/issuers", headers=AUTH)
    assert r.status_code == 405 and r.mimetype == "application/problem+json"
    assert set(r.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_a_required_body_and_its_media_type_are_checked(client, world):
    issuer = world["a"]["issuer_pid"]
    missing = client.patch(f"/api/v1/issuers/{issuer}", headers=AUTH)
    assert missing.status_code == 422 and missing.get_json()["field"] == "body"
    wrong = client.patch(f"/api/v1/issuers/{issuer}", headers=AUTH, data="name=x", content_type="text/plain")
    assert wrong.status_code == 415 and wrong.headers["Accept-Patch"] == "application/json"
    assert wrong.get_json()["accepted"] == ["application/json"]
    assert client.patch(f"/api/v1/issuers/{issuer}", headers=AUTH, json={}).status_code == 200
    # A body the operation may go without: the connector's example payload is sent.
    connector = world["a"]["connector_id"]
    r = client.post(f"/api/v1/connectors/{connector}/test-event", headers=AUTH)
    assert r.status_code in (202, 409), r.get_data(as_text=True)


@pytest.mark.parametrize("body", ["true", "5", "null", '["a"]'])
def test_a_json_body_that_is_not_an_object_is_refused(client, body):
    r = client.post("/api/v1/issuers", headers=AUTH, data=body, content_type="application/json")
    assert r.status_code in (400, 422) and r.mimetype == "application/problem+json", r.get_data(as_text=True)


def test_nul_in_an_unknown_field_is_ignored_like_the_field(client, world):
    body = {"enabled": False, "note\x00": "a\x00b"}
    assert client.patch(f"/api/v1/rules/{world['a']['rule']}", headers=AUTH, json=body).status_code == 200
    bad = client.patch(f"/api/v1/rules/{world['a']['rule']}", headers=AUTH, json={"enabled": False, "x": 1})
    assert bad.status_code == 200
    refused = client.post("/api/v1/issuers", headers=AUTH, json={"name": "a\x00", "url": "https://example.org"})
    assert refused.status_code == 422 and refused.get_json()["errors"]["json"]["name"]


def test_an_unknown_cursor_is_not_found_a_malformed_one_invalid(client, world):
    assert client.get("/api/v1/awards?cursor=nope", headers=AUTH).status_code == 422
    unknown = client.get("/api/v1/awards?cursor=00000000-0000-4000-8000-000000000000", headers=AUTH)
    assert unknown.status_code == 404 and unknown.get_json()["field"] == "cursor"
