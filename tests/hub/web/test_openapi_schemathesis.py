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


# ---- the run's own configuration -------------------------------------------------------------------------


def test_each_allowance_applies_to_the_one_operation_it_names(app):
    """An allowance of the run is one operation's; schemathesis ORs ``include-method`` with
    ``include-path``, which once made every POST, PATCH and PUT take 422 as valid data and every POST's
    5xx an upstream answer."""
    import schemathesis

    from bench.schemathesis_run import CONTENT_CHECKED, UPSTREAM, config

    schema = schemathesis.openapi.from_wsgi(
        "/api/v1/openapi.json", app, config=config(token="t", seed=1, max_examples=1)
    )
    labels = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        labels.add(operation.label)
        checks = schema.config.checks_config_for(operation=operation)
        assert ("422" in checks.positive_data_acceptance.expected_statuses) == (operation.label in CONTENT_CHECKED)
        upstream_answers = [s for s in checks.not_a_server_error.expected_statuses if s.startswith("5")]
        assert upstream_answers == [s for s in UPSTREAM.get(operation.label, []) if s.startswith("5")]
    assert set(CONTENT_CHECKED) | set(UPSTREAM) <= labels  # no allowance names an operation that is gone


def test_a_generated_file_body_is_sent_as_its_bytes():
    from schemathesis.transport.serialization import Binary

    from bench.schemathesis_run import _file_body

    assert _file_body(None, Binary(b"a,b\n1,2\n")) == b"a,b\n1,2\n"
    from schemathesis.transport.wsgi import WSGI_TRANSPORT  # the one case.call sends through in-process

    assert WSGI_TRANSPORT.get_first_matching_media_type("text/csv")[0] == "text/csv"


# ---- what the runs found ---------------------------------------------------------------------------------


def test_a_body_naming_no_badge_or_group_is_not_found(client, world):
    issuer = world["a"]["issuer_pid"]
    nothing = "00000000-0000-4000-8000-000000000000"
    body = {"issuer": issuer, "name": "P", "completion_badge": nothing}
    r = client.post("/api/v1/paths", headers=AUTH, json=body)
    assert r.status_code == 404 and r.get_json()["field"] == "completion_badge", r.get_json()
    path = client.post("/api/v1/paths", headers=AUTH, json={**body, "completion_badge": world["a"]["badge"]})
    assert path.status_code == 201, path.get_json()
    steps = f"/api/v1/paths/{path.get_json()['id']}/steps"
    r = client.post(steps, headers=AUTH, json={"badge_class": nothing})
    assert r.status_code == 404 and r.get_json()["field"] == "badge_class"
    r = client.post(steps, headers=AUTH, json={"badge_class": world["b"]["badge"], "group": 999_999})
    assert r.status_code == 404 and r.get_json()["field"] == "group"
    assert client.delete(f"{steps}/999999", headers=AUTH).status_code == 404
    decide = client.post(
        f"/api/v1/paths/{path.get_json()['id']}/completions/decide",
        headers=AUTH,
        json={"recipient": "nobody@example.org", "decision": "keep"},
    )
    assert decide.status_code == 404 and decide.get_json()["field"] == "recipient"


def test_rules_between_fields_are_in_the_document(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    verify = schemas["VerifyIn"]
    assert [branch["required"] for branch in verify["anyOf"]] == [["url"], ["text"], ["data"]]
    assert verify["properties"]["data"]["contentEncoding"] == "base64"
    site = schemas["SiteIn"]
    assert [branch["required"] for branch in site["anyOf"]] == [["course_ids"], ["course_idnumbers"]]
    assert schemas["RegistrationIn"]["anyOf"] == [
        {"required": ["badge_issuer"], "properties": {"badge_issuer": {"type": "string", "minLength": 1}}}
    ]
    # what the document calls invalid, the code refuses
    for body in ({}, {"url": " ", "text": "", "data": None}):
        r = client.post("/api/v1/verify", json=body)
        assert r.status_code == 422 and r.mimetype == "application/problem+json", r.get_json()
    r = client.post("/api/v1/verify", json={"data": "not base64!"})
    assert r.status_code == 422 and r.get_json()["errors"]["json"]["data"]


def test_patterns_and_lengths_the_code_applies_are_in_the_document(client, world):
    from moodle_bridge.sites import TOKEN

    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert (
        schemas["SiteIn"]["properties"]["token"]["pattern"]
        == TOKEN
        == schemas["SitePatch"]["properties"]["token"]["pattern"]
    )
    r = client.post(
        "/api/v1/moodle/sites",
        headers=AUTH,
        json={"name": "M", "site_url": "https://moodle.example", "token": "a\x85b", "course_ids": [2]},
    )
    assert r.status_code == 422 and r.get_json()["errors"]["json"]["token"], r.get_json()
    assert schemas["IssuerPatch"]["properties"]["email"]["minLength"] == 1
    r = client.patch(f"/api/v1/issuers/{world['a']['issuer_pid']}", headers=AUTH, json={"email": ""})
    assert r.status_code == 422 and r.get_json()["errors"]["json"]["email"]
    webhook = schemas["SubscriptionIn"]["properties"]["url"]
    assert webhook["pattern"].startswith("^https?://") and "HUB_WEBHOOK_ALLOW_PRIVATE_HOSTS" in webhook["description"]


def test_white_space_in_patterns_means_the_same_to_every_reader():
    """Python's ``re`` reads ``\\s`` over Unicode, schemathesis over ASCII, JSON Schema validators as ECMA-262
    does: the document spells white space out (:data:`hub.schemas.SPACE`), so ``"\\x1c"`` in a URL, a token
    or a "not blank" text is refused by all three (a schemathesis run sent a Moodle site URL with one)."""
    import re
    import sys

    import jsonschema_rs

    from hub.schemas import HTTP_BASE_URL, HTTP_URL, NOT_BLANK, SPACE
    from moodle_bridge.sites import TOKEN

    space = re.compile(f"[{SPACE}]")
    assert all(bool(space.fullmatch(chr(c))) == chr(c).isspace() for c in range(sys.maxunicode + 1))
    spaces = [chr(c) for c in range(0x3001) if chr(c).isspace()]
    cases = ((HTTP_URL, "https://example.org/a{}b"), (HTTP_BASE_URL, "https://example.org/a{}b"), (TOKEN, "a{}b"))
    for pattern, text in (*cases, (NOT_BLANK["pattern"], "{}")):
        validator = jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
        for char in spaces:
            value = text.format(char)
            readings = {
                bool(re.search(pattern, value)),
                bool(re.search(pattern, value, re.ASCII)),
                validator.is_valid(value),
            }
            assert readings == {False}, (pattern, char)
        assert re.search(pattern, text.format("x")) and validator.is_valid(text.format("x"))
