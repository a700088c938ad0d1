"""Credentials carry the path: the OB 3.0 Achievement of a step and of a completion badge point to the
path (``alignment``) and to each other (``related``), validate against the OB 3.0 JSON Schema and
verify with both JSON-LD canonicalisations; the public path page shows the steps."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from hub.badges.models import Assertion, BadgeClass
from hub.credentials import dataintegrity, jsonld, ob3, ob3keys
from tests.hub.credentials.ob3_support import SHARED_REF
from tests.hub.paths.test_paths import build_path, hand_award, make_badges

SCHEMA = SHARED_REF / "ob_v3p0_achievementcredential_schema.json"


def test_step_and_completion_credentials_point_to_the_path(app, ctx, client, factory):
    ids = factory.setup()
    b = make_badges(ctx, ids["issuer"], "A", "X")
    path_id = build_path(ctx, ids["issuer"], b["X"], required=[b["A"]])
    step = hand_award(ctx, b["A"], "a@example.org")
    url = ctx.urls.path(path_id)
    with ctx.db.session_scope() as s:
        done = s.scalar(select(Assertion).join(BadgeClass).where(BadgeClass.public_id == b["X"]))
        a = s.scalar(select(Assertion).where(Assertion.public_id == step))
        creds = {name: ob3.issue(s, ctx, row, "data-integrity").document for name, row in (("step", a), ("done", done))}
        issuer = a.badge_class.issuer
        doc = ob3keys.did_document(s, ctx, issuer)
    keys = {vm["id"]: vm for vm in doc["verificationMethod"]}

    def resolve(vm_id: str) -> bytes:
        return ob3keys.public_from_multikey(keys[vm_id]["publicKeyMultibase"])

    step_ach = creds["step"]["credentialSubject"]["achievement"]
    done_ach = creds["done"]["credentialSubject"]["achievement"]
    assert {
        "type": ["Alignment"],
        "targetName": "Ścieżka",
        "targetUrl": url,
        "targetType": "ext:DevelopmentPath",
    }.items() <= step_ach["alignment"][-1].items()
    assert step_ach["related"] == [{"id": ctx.urls.badge_class(b["X"]), "type": ["Related"]}]
    assert done_ach["related"] == [{"id": ctx.urls.badge_class(b["A"]), "type": ["Related"]}]
    assert done_ach["alignment"][-1]["targetUrl"] == url
    for signed in creds.values():
        dataintegrity.verify_proof(signed, resolve)
        dataintegrity.verify_proof(signed, resolve, canonize=jsonld.canonize_general)
    if SCHEMA.exists():
        from jsonschema import Draft201909Validator

        validator = Draft201909Validator(json.loads(SCHEMA.read_text()))
        for signed in creds.values():
            assert [e.message for e in validator.iter_errors(signed)] == []
    else:
        pytest.skip(f"OB 3.0 JSON Schema not found at {SCHEMA} (../shared/ref is absent)")


def test_public_path_page_and_json(app, ctx, client, factory):
    ids = factory.setup()
    b = make_badges(ctx, ids["issuer"], "A", "B", "X")
    path_id = build_path(ctx, ids["issuer"], b["X"], required=[b["A"]], group=[b["B"]], need=1)
    page = client.get(f"/paths/{path_id}", headers={"Accept": "text/html"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ścieżka" in html and ">A</bdi>" in html and ">B</bdi>" in html
    doc = client.get(f"/paths/{path_id}", headers={"Accept": "application/json"}).get_json()
    assert [s["name"] for s in doc["steps"]] == ["A", "B"] and doc["groups"][0]["need"] == 1
    assert client.get("/paths/00000000-0000-0000-0000-000000000000").status_code == 404
    badge_page = client.get(f"/badges/{b['A']}", headers={"Accept": "text/html"}).get_data(as_text=True)
    assert f"/paths/{path_id}" in badge_page
