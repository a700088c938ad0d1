"""OB 3.0 credentials built from award rows: schema, proofs, status allocation, serving."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from hub.credentials import dataintegrity, jsonld, ob3, ob3keys, status
from hub.credentials.models import StatusList
from tests.hub.credentials.ob3_support import SHARED_REF, make_assertion, make_issuer, make_world

SCHEMA = SHARED_REF / "ob_v3p0_achievementcredential_schema.json"


@pytest.fixture()
def world(tmp_path):
    w = make_world(tmp_path)
    yield w
    w.session.close()
    w.ctx.db.dispose()


def _validator():
    if not SCHEMA.exists():
        pytest.skip(f"OB 3.0 JSON Schema not found at {SCHEMA} (../shared/ref is absent)")
    from jsonschema import Draft201909Validator

    return Draft201909Validator(json.loads(SCHEMA.read_text()))


def _jwt_payload(token: str) -> dict:
    p = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))


def test_both_formats_validate_against_the_ob3_schema(world):
    validator = _validator()
    a = make_assertion(world.session, world.badge)
    ob3.record_lms_identity(world.session, world.ctx, a, "ltiUserId", "lti-user-42")
    ob3.record_lms_identity(world.session, world.ctx, a, "sourcedId", "SIS-0042")
    signed = ob3.issue(world.session, world.ctx, a, "data-integrity").document
    assert isinstance(signed["proof"], list) and signed["proof"][0]["cryptosuite"] == "eddsa-rdfc-2022"
    assert signed["@context"] == jsonld.OB3_CONTEXTS
    assert [i["identityType"] for i in signed["credentialSubject"]["identifier"]] == [
        "emailAddress",
        "ltiUserId",
        "sourcedId",
    ]
    assert "lti-user-42" not in json.dumps(signed)
    errors = [e.message for e in validator.iter_errors(signed)]
    assert errors == []
    payload = _jwt_payload(ob3.issue(world.session, world.ctx, a, "vc-jwt").text)
    assert {"iss", "jti", "nbf"} <= payload.keys() and payload["jti"] == signed["id"]
    # OB 3.0 §8.2.4.1: ``sub`` is credentialSubject.id, and this subject has none (hashed identifiers)
    assert "sub" not in payload and "exp" not in payload and "id" not in payload["credentialSubject"]
    assert payload["iss"] == signed["issuer"]["id"] and payload["nbf"] == 1772366400  # 2026-03-01T12:00:00Z
    assert payload["credentialStatus"]["statusListCredential"].endswith("/jwt")
    assert [e.message for e in validator.iter_errors(payload)] == []


def test_python_verifies_its_proof_and_rejects_tampering(world):
    a = make_assertion(world.session, world.badge)
    signed = ob3.issue(world.session, world.ctx, a).document
    doc = ob3keys.did_document(world.session, world.ctx, world.issuer)
    keys = {vm["id"]: vm for vm in doc["verificationMethod"]}

    def resolve(vm_id: str) -> bytes:
        return ob3keys.public_from_multikey(keys[vm_id]["publicKeyMultibase"])

    dataintegrity.verify_proof(signed, resolve)
    # the general algorithm verifies the same bytes
    dataintegrity.verify_proof(signed, resolve, canonize=jsonld.canonize_general)
    signed["credentialSubject"]["achievement"]["name"] = "Forged"
    with pytest.raises(Exception, match="does not verify"):
        dataintegrity.verify_proof(signed, resolve)


def test_control_characters_never_reach_a_credential(world):
    world.badge.name = "Bell\x07 and\x00 null\x7f"
    world.badge.description = "tab\tLF\nCR\r kept"
    a = make_assertion(world.session, world.badge)
    cred = ob3.issue(world.session, world.ctx, a).document
    assert cred["name"] == "Bell and null"
    assert cred["description"] == "tab\tLF\nCR\r kept"


def test_contexts_are_pinned_and_match_the_reference(world):
    pinned = jsonld.pinned_contexts()
    assert set(pinned) == {*jsonld.OB3_CONTEXTS, *ob3keys.DID_CONTEXTS[:2]}
    ref = SHARED_REF / "jsonld-contexts.json"
    if not ref.exists():
        pytest.skip("../shared/ref/jsonld-contexts.json is absent")
    reference = json.loads(ref.read_text())
    for url, doc in pinned.items():
        if url in reference:
            assert reference[url] == doc, url
    with pytest.raises(jsonld.ContextNotAllowed):
        jsonld.document_loader("https://www.w3.org/2018/credentials/v1")


def test_status_indexes_unique_under_concurrent_awards(tmp_path):
    w = make_world(tmp_path)
    assertions = [make_assertion(w.session, w.badge, email=f"l{i}@example.org", status_entry=False) for i in range(24)]
    w.session.commit()
    ids = [a.id for a in assertions]
    got, errors = [], []

    def worker(chunk):
        try:
            for aid in chunk:
                with w.ctx.db.session_scope() as s:
                    from hub.badges.models import Assertion

                    entry = status.allocate_status(s, s.get(Assertion, aid))
                    got.append((entry.status_list_id, entry.status_index))
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(ids[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(set(got)) == len(ids) == len(got)
    with w.ctx.db.session_scope() as s:
        (sl,) = s.query(StatusList).all()
        assert sl.next_index == len(ids)  # a counter that only grows: indexes are never reused
    w.ctx.db.dispose()


def test_status_list_shows_revocations(world):
    a = make_assertion(world.session, world.badge)
    b = make_assertion(world.session, world.badge, email="other@example.org")
    ea, eb = status.allocate_status(world.session, a), status.allocate_status(world.session, b)
    b.revoked, b.revocation_reason = True, "cheating"
    issuer_id = ob3keys.issuer_id(world.session, world.ctx, world.issuer)
    doc = status.status_list_credential_json(world.session, world.ctx, ea.status_list, issuer_id)
    bits = status.decode_bitstring(doc["credentialSubject"]["encodedList"])
    assert len(bits) * 8 >= 131072
    assert not bits[ea.status_index >> 3] & (0x80 >> (ea.status_index & 7))
    assert bits[eb.status_index >> 3] & (0x80 >> (eb.status_index & 7))
    rl = status.revocation_list_1edtech(world.session, world.ctx, world.issuer, issuer_id)
    assert rl["revokedCredentials"] == [{"id": f"urn:uuid:{b.public_id}", "revocationReason": "cheating"}]


def test_rotation_keeps_old_keys_published(world):
    first = ob3keys.ensure_key(world.session, world.ctx, world.issuer)
    second = ob3keys.rotate_key(world.session, world.ctx, world.issuer)
    doc = ob3keys.did_document(world.session, world.ctx, world.issuer)
    ids = {vm["id"].split("#")[1] for vm in doc["verificationMethod"]}
    assert {first.public_id, second.public_id} <= ids
    assert doc["id"] == world.ctx.urls.issuer_did(world.issuer.public_id)


def test_did_key_issuer(tmp_path):
    w = make_world(tmp_path, did_method="key")
    a = make_assertion(w.session, w.badge)
    cred = ob3.issue(w.session, w.ctx, a).document
    assert cred["issuer"]["id"].startswith("did:key:z6Mk")
    assert cred["proof"][0]["verificationMethod"].startswith(cred["issuer"]["id"] + "#z6Mk")
    w.ctx.db.dispose()


def test_served_media_types(tmp_path):
    from tests.conformance.test_ob3_verifiers import make_app

    w = make_world(tmp_path)
    a = make_assertion(w.session, w.badge)
    w.session.commit()
    client = make_app(w.ctx).test_client()
    url = f"/credentials/{a.public_id}"
    assert client.get(url, headers={"Accept": "application/vc+ld+json"}).mimetype == "application/vc+ld+json"
    assert client.get(url, headers={"Accept": "application/ld+json"}).mimetype == "application/ld+json"
    assert client.get(url, headers={"Accept": "application/json"}).mimetype == "application/json"
    # The page uses the hub's layout (tests/hub/test_json_downloads.py); an app with only this
    # blueprint answers a browser with the JSON rather than failing.
    page = client.get(url, headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.mimetype == "application/vc+ld+json"
    jwt = client.get(url + "/jwt?alg=ES256")
    assert (
        jwt.mimetype == "text/plain"
        and json.loads(base64.urlsafe_b64decode(jwt.data.split(b".")[0] + b"=="))["alg"] == "ES256"
    )
    baked = client.get(url + "/baked.png")
    assert baked.mimetype == "image/png" and b"openbadgecredential" in baked.data
    assert client.get(f"/issuers/{w.issuer.public_id}/did.json").mimetype == "application/did+json"
    assert client.get(f"/credentials/{a.public_id}x").status_code == 404
    w.ctx.db.dispose()


def test_make_issuer_without_settings_uses_defaults(world):
    other = make_issuer(world.session, world.ctx, name="Plain")
    s = ob3keys.settings_for(world.session, other)
    assert (s.proof_format, s.did_method, s.jwt_algorithm) == ("data-integrity", "web", "RS256")


def test_vc_jwt_claims_follow_ob3_8_2_4_1():
    cred = {
        "id": "urn:uuid:1",
        "issuer": {"id": "did:web:x"},
        "validFrom": "2026-03-01T12:00:00Z",
        "validUntil": "2027-03-01T12:00:00Z",
        "credentialSubject": {"id": "did:example:learner", "type": ["AchievementSubject"]},
    }
    claims = ob3.jwt_claims(cred)
    assert (claims["iss"], claims["jti"], claims["sub"]) == ("did:web:x", "urn:uuid:1", "did:example:learner")
    assert (claims["nbf"], claims["exp"]) == (1772366400, 1803902400)
    del cred["credentialSubject"]["id"], cred["validUntil"]
    assert {"sub", "exp"}.isdisjoint(ob3.jwt_claims(cred))


def test_status_list_jwt_is_signed_with_the_first_key_of_the_did_document(world):
    a = make_assertion(world.session, world.badge)
    entry = status.status_entry(world.session, a)
    doc = status.status_list_credential_json(
        world.session, world.ctx, entry.status_list, ob3keys.issuer_id(world.session, world.ctx, world.issuer), jwt=True
    )
    token = ob3.status_list_jwt(world.session, world.ctx, world.issuer, doc)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    first = ob3keys.did_document(world.session, world.ctx, world.issuer)["verificationMethod"][0]
    assert header["alg"] == "RS256" and header["kid"] == first["id"]
    payload = _jwt_payload(token)
    assert payload["id"].endswith("/jwt") and payload["sub"] == payload["credentialSubject"]["id"]


def test_did_key_issuer_refuses_other_algorithms_as_bad_input(tmp_path):
    w = make_world(tmp_path, did_method="key")
    a = make_assertion(w.session, w.badge)
    with pytest.raises(ob3keys.DidKeyAlgorithm) as err:
        ob3.issue(w.session, w.ctx, a, "vc-jwt", "ES256")
    assert err.value.status == 422 and err.value.extra["field"] == "alg"


def test_the_contexts_did_documents_name_are_pinned(world):
    """did/v1 and multikey/v1 ship with the hub (contexts/manifest.json, from npm packages); jwk/v1 has no
    published package to pin it from: JWT verifiers read the JWK as JSON, never through that context."""
    doc = ob3keys.did_document(world.session, world.ctx, world.issuer)
    unpinned = [c for c in doc["@context"] if c not in jsonld.pinned_contexts()]
    assert unpinned == ["https://w3id.org/security/jwk/v1"]
    for url in doc["@context"][:2]:
        assert jsonld.document_loader(url)["document"]["@context"]
