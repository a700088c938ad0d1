"""Hosted OB 2.0 documents, their HTML views, revocation, signed assertions and key rotation."""

from __future__ import annotations

import json
import re

from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.credentials.baking import OB2_SVG_NS, unbake_png, unbake_svg
from hub.credentials.signing import verify_jws
from tests.conftest import BADGE_SVG, completion, post_event

LD = {"Accept": "application/ld+json"}
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def awarded(client, ctx, factory, **kw):
    ids = factory.setup(**kw)
    assert post_event(client, completion()).status_code == 202
    with ctx.db.session_scope() as s:
        a = s.query(Assertion).one()
        return ids, a.public_id


def test_hosted_documents_link_up(client, ctx, factory):
    ids, aid = awarded(client, ctx, factory, expires_after_days=30)
    resp = client.get(f"/assertions/{aid}", headers=LD)
    assert resp.status_code == 200 and resp.content_type.startswith("application/ld+json")
    a = resp.get_json()
    assert a["@context"] == "https://w3id.org/openbadges/v2" and a["type"] == "Assertion"
    assert a["id"] == f"http://hub.test/assertions/{aid}"
    assert a["verification"] == {"type": "HostedBadge"}
    assert a["recipient"]["identity"].startswith("sha256$") and len(a["recipient"]["identity"]) == 71
    assert ISO_Z.match(a["issuedOn"]) and ISO_Z.match(a["expires"])
    badge = client.get(a["badge"].removeprefix("http://hub.test"), headers=LD).get_json()
    assert badge["name"] == "Zażółć gęślą jaźń" and badge["criteria"]["id"].endswith(f"/badges/{ids['badge']}/criteria")
    issuer = client.get(badge["issuer"].removeprefix("http://hub.test"), headers=LD).get_json()
    assert issuer["type"] == "Issuer" and issuer["revocationList"].endswith("/revocations")
    key = client.get(issuer["publicKey"].removeprefix("http://hub.test"), headers=LD).get_json()
    assert key["owner"] == issuer["id"] and "BEGIN PUBLIC KEY" in key["publicKeyPem"]
    assert client.get(badge["image"].removeprefix("http://hub.test")).mimetype == "image/png"


def test_same_recipient_hash_in_every_serialisation(client, ctx, factory):
    _, aid = awarded(client, ctx, factory)
    hosted = client.get(f"/assertions/{aid}", headers=LD).get_json()
    jws = client.get(f"/assertions/{aid}/signed").get_data(as_text=True)
    baked = json.loads(unbake_png(client.get(f"/assertions/{aid}/baked.png").data, "openbadges"))
    baked_signed = unbake_png(client.get(f"/assertions/{aid}/baked.png?form=signed").data, "openbadges")
    with ctx.db.session_scope() as s:
        a = s.query(Assertion).one()
        signed = verify_jws(jws, a.signing_key.public_pem)
    assert baked_signed == jws
    assert hosted["recipient"] == signed["recipient"] == baked["recipient"]
    assert signed["id"] == f"urn:uuid:{aid}" and signed["verification"]["type"] == "SignedBadge"


def test_browser_gets_html_with_polish_letters(client, ctx, factory):
    _, aid = awarded(client, ctx, factory)
    page = client.get(f"/assertions/{aid}", headers=HTML)
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "Zażółć gęślą jaźń" in html and ("Valid" in html or "Ważna" in html)
    assert "zofia" not in html.lower()  # the page shows no e-mail address


def test_revoked_hosted_assertion_answers_410_and_lists_signed(client, ctx, factory):
    ids, aid = awarded(client, ctx, factory)
    with ctx.db.session_scope() as s:
        badges.revoke(s, ctx, s.query(Assertion).one(), "Błędnie przyznana")
    resp = client.get(f"/assertions/{aid}", headers=LD)
    assert resp.status_code == 410
    assert resp.get_json() == {
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Assertion",
        "id": f"http://hub.test/assertions/{aid}",
        "revoked": True,
        "revocationReason": "Błędnie przyznana",
    }
    assert "Revoked" in client.get(f"/assertions/{aid}?lang=en", headers=HTML).get_data(as_text=True)
    rl = client.get(f"/issuers/{ids['issuer']}/revocations", headers=LD).get_json()
    assert rl["revokedAssertions"] == [{"id": f"urn:uuid:{aid}", "revocationReason": "Błędnie przyznana"}]
    assert client.get(f"/assertions/{aid}/baked.png").status_code == 404


def test_key_rotation_keeps_old_key_published(client, ctx, factory):
    ids, aid = awarded(client, ctx, factory)
    with ctx.db.session_scope() as s:
        issuer = s.query(Issuer).one()
        old = badges.active_key(issuer)
        badges.rotate_key(s, ctx, issuer)
        old_id = old.public_id
    doc = client.get(f"/issuers/{ids['issuer']}", headers=LD).get_json()
    assert old_id not in doc["publicKey"]  # the current key is announced; the old one stays served
    jws = client.get(f"/assertions/{aid}/signed").get_data(as_text=True)
    key = client.get(f"/issuers/{ids['issuer']}/keys/{old_id}", headers=LD).get_json()
    assert verify_jws(jws, key["publicKeyPem"])["id"] == f"urn:uuid:{aid}"


def test_svg_badge_baked(client, ctx, factory):
    _, aid = awarded(client, ctx, factory, image=BADGE_SVG.encode())
    svg = client.get(f"/assertions/{aid}/baked.svg").data
    verify, text = unbake_svg(svg, tag="assertion", ns=OB2_SVG_NS)
    assert verify == f"http://hub.test/assertions/{aid}" and json.loads(text)["id"] == verify
    assert client.get(f"/assertions/{aid}/baked.png").status_code == 404


def test_unknown_ids_are_404_problem_or_page(client):
    assert client.get("/assertions/nope", headers=LD).mimetype == "application/problem+json"
    page = client.get("/badges/nope", headers=HTML)
    assert page.status_code == 404 and page.mimetype == "text/html"


def test_health(client):
    assert client.get("/health").get_json() == {"status": "ok", "database": "ok"}


def test_private_keys_stored_encrypted(ctx, factory):
    factory.setup()
    with ctx.db.session_scope() as s:
        key = s.query(Issuer).one().keys[0]
        assert "PRIVATE KEY" not in key.private_key_encrypted
        assert b"PRIVATE KEY" in ctx.box.decrypt(key.private_key_encrypted)
        assert s.query(BadgeClass).one().criteria_url is None


def test_polish_letters_survive_json_jws_and_baked_png(client, ctx, factory):
    """UTF-8 end to end: a Polish evidence narrative through the webhook, hosted JSON, JWS and baked PNG."""
    from hub.demo import MOODLE_MAPPING

    factory.setup(mapping={**MOODLE_MAPPING, "evidence_narrative": "data.course.fullname"})
    assert post_event(client, completion()).status_code == 202
    with ctx.db.session_scope() as s:
        a = s.query(Assertion).one()
        aid, pem = a.public_id, a.signing_key.public_pem
    hosted = client.get(f"/assertions/{aid}", headers=LD).get_json()
    signed = verify_jws(client.get(f"/assertions/{aid}/signed").get_data(as_text=True), pem)
    baked = json.loads(unbake_png(client.get(f"/assertions/{aid}/baked.png").data, "openbadges"))
    for doc in (hosted, signed, baked):
        assert doc["evidence"][0]["narrative"] == "Zażółć gęślą jaźń"
    raw = client.get(f"/assertions/{aid}", headers=LD).data
    assert "Zażółć".encode() in raw  # real UTF-8, not \\u escapes
