"""OB 3.0 credentials are signed once, at award time, and served from the stored bytes (issue 17).

Awards go through the real webhook pipeline (``tests.hub.certificates.support.award``) on each
database of the session (SQLite file, PostgreSQL when ``HUB_TEST_DATABASE_URL`` is set).
"""

from __future__ import annotations

import base64
import json

from sqlalchemy import delete, select

from hub.badges import services as badges
from hub.badges.models import Assertion
from hub.credentials import dataintegrity, ob3, ob3keys, status
from hub.credentials.models import PROOF_DATA_INTEGRITY, PROOF_VC_JWT, StoredCredential
from tests.hub.certificates.support import award

LD = {"Accept": "application/vc+ld+json"}


def _stored(ctx, aid: str) -> dict[str, StoredCredential]:
    with ctx.db.session_scope() as s:
        rows = s.scalars(
            select(StoredCredential)
            .join(Assertion, StoredCredential.assertion_id == Assertion.id)
            .where(Assertion.public_id == aid)
        ).all()
        s.expunge_all()
        return {r.proof_format: r for r in rows}


def _verify(ctx, aid: str, text: str) -> None:
    """The Data Integrity proof of ``text`` verifies against the issuer's DID document of now."""
    with ctx.db.session_scope() as s:
        issuer = s.scalar(select(Assertion).where(Assertion.public_id == aid)).badge_class.issuer
        doc = ob3keys.did_document(s, ctx, issuer)
    keys = {vm["id"]: vm for vm in doc["verificationMethod"]}
    dataintegrity.verify_proof(
        json.loads(text), lambda vm: ob3keys.public_from_multikey(keys[vm]["publicKeyMultibase"])
    )


def test_the_award_stores_both_formats_and_gets_serve_them_byte_for_byte(client, ctx, factory):
    aid = award(client, ctx, factory)
    rows = _stored(ctx, aid)
    assert set(rows) == {PROOF_DATA_INTEGRITY, PROOF_VC_JWT}
    assert rows[PROOF_DATA_INTEGRITY].algorithm == "Ed25519" and rows[PROOF_VC_JWT].algorithm == "RS256"
    first, second = client.get(f"/credentials/{aid}", headers=LD), client.get(f"/credentials/{aid}", headers=LD)
    assert first.status_code == 200 and first.data == second.data == rows[PROOF_DATA_INTEGRITY].text.encode()
    download = client.get(f"/credentials/{aid}?format=json")
    assert download.data == first.data and "attachment" in download.headers["Content-Disposition"]
    jwt1, jwt2 = client.get(f"/credentials/{aid}/jwt"), client.get(f"/credentials/{aid}/jwt")
    assert jwt1.data == jwt2.data == rows[PROOF_VC_JWT].text.encode()
    baked = client.get(f"/credentials/{aid}/baked.png?format=ldp")
    assert rows[PROOF_DATA_INTEGRITY].text.encode() in baked.data
    _verify(ctx, aid, first.get_data(as_text=True))
    # the stored bytes are what building and signing now would give (Ed25519 and RS256 are deterministic)
    with ctx.db.session_scope() as s:
        s.execute(delete(StoredCredential))
    assert client.get(f"/credentials/{aid}", headers=LD).data == first.data
    assert client.get(f"/credentials/{aid}/jwt").data == jwt1.data


def test_revocation_changes_the_status_list_not_the_credential(client, ctx, factory):
    aid = award(client, ctx, factory)
    before = client.get(f"/credentials/{aid}", headers=LD).data
    cred = json.loads(before)
    list_url = cred["credentialStatus"]["statusListCredential"].replace(ctx.urls.base, "")
    index = int(cred["credentialStatus"]["statusListIndex"])

    def bit() -> bool:
        bits = status.decode_bitstring(client.get(list_url).get_json(force=True)["credentialSubject"]["encodedList"])
        return bool(bits[index >> 3] & (0x80 >> (index & 7)))

    assert not bit()
    with ctx.db.session_scope() as s:
        badges.revoke(s, ctx, s.scalar(select(Assertion).where(Assertion.public_id == aid)), "mistake")
    assert bit()
    assert client.get(f"/credentials/{aid}", headers=LD).data == before


def test_issued_credentials_keep_what_was_awarded(client, ctx, factory):
    """A badge class edit and a key rotation change later awards only: an issued credential is the
    signed record of what was awarded, and still verifies (retired keys stay in the DID document)."""
    aid = award(client, ctx, factory)
    before = client.get(f"/credentials/{aid}", headers=LD).data
    jwt_before = client.get(f"/credentials/{aid}/jwt").data
    with ctx.db.session_scope() as s:
        a = s.scalar(select(Assertion).where(Assertion.public_id == aid))
        badges.update_badge_class(s, ctx, a.badge_class, name="Nowa nazwa odznaki")
        issuer = a.badge_class.issuer
        ob3keys.rotate_key(s, ctx, issuer, "Ed25519")
        ob3keys.update_settings(s, ctx, issuer, jwt_algorithm="ES256")
    assert client.get(f"/credentials/{aid}", headers=LD).data == before
    assert client.get(f"/credentials/{aid}/jwt").data == jwt_before
    _verify(ctx, aid, before.decode())
    later = award(client, ctx, factory, email="jan@example.edu", user_id=8, setup=False)
    doc = client.get(f"/credentials/{later}", headers=LD).get_json(force=True)
    assert doc["credentialSubject"]["achievement"]["name"] == "Nowa nazwa odznaki"
    assert doc["proof"][0]["verificationMethod"] != json.loads(before)["proof"][0]["verificationMethod"]
    header = json.loads(base64.urlsafe_b64decode(client.get(f"/credentials/{later}/jwt").data.split(b".")[0] + b"=="))
    assert header["alg"] == "ES256"


def test_another_jwt_algorithm_is_signed_on_request(client, ctx, factory):
    aid = award(client, ctx, factory)
    stored = _stored(ctx, aid)[PROOF_VC_JWT].text
    token = client.get(f"/credentials/{aid}/jwt?alg=EdDSA").get_data(as_text=True)
    assert token != stored and json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["alg"] == "EdDSA"
    with ctx.db.session_scope() as s:
        a = s.scalar(select(Assertion).where(Assertion.public_id == aid))
        issued = ob3.issue(s, ctx, a, PROOF_VC_JWT)
        assert issued.text == stored and issued.document["id"] == f"urn:uuid:{aid}" and "jti" not in issued.document


def test_a_settings_or_profile_change_applies_to_earlier_awards_too(client, ctx, factory):
    """Through the operations (console, API, CLI): the console promises that the issuer's credential
    settings and profile apply to every credential served from then on, earlier awards included."""
    from hub.accounts.access import Principal
    from hub.operations import actions

    admin = Principal(None, "test", site_admin=True, via="api")
    aid = award(client, ctx, factory)
    assert _stored(ctx, aid)
    with ctx.db.session_scope() as s:
        issuer = s.scalar(select(Assertion).where(Assertion.public_id == aid)).badge_class.issuer
        actions.set_credential_settings(s, ctx, admin, issuer, jwt_algorithm="ES256")
    assert _stored(ctx, aid) == {}
    header = json.loads(base64.urlsafe_b64decode(client.get(f"/credentials/{aid}/jwt").data.split(b".")[0] + b"=="))
    assert header["alg"] == "ES256"
    first, second = client.get(f"/credentials/{aid}", headers=LD), client.get(f"/credentials/{aid}", headers=LD)
    assert first.data == second.data  # built per GET now, still the same bytes each time
    _verify(ctx, aid, first.get_data(as_text=True))
    with ctx.db.session_scope() as s:
        issuer = s.scalar(select(Assertion).where(Assertion.public_id == aid)).badge_class.issuer
        actions.update_issuer(s, ctx, admin, issuer, name="Nowa nazwa wystawcy")
    doc = client.get(f"/credentials/{aid}", headers=LD).get_json(force=True)
    assert doc["issuer"]["name"] == "Nowa nazwa wystawcy"
