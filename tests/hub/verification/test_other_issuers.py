"""Badges made elsewhere: a Moodle 5.1 core-badges OB 2.0 assertion (the shape of Moodle's
``badges/classes/assertion.php``: embedded badge class and issuer, ``verify.type: hosted``, a salted
``sha256$`` identity, a ``data:`` image), other OB 2.0 identities (md5, upper-case hex, no salt, plain
e-mail), and OB 3.0 credentials signed by other libraries (PyNaCl + rfc8785 for ``eddsa-jcs-2022``,
PyJWT for VC-JWTs) with did:key, did:web and HTTPS JWKS issuers, served by a real local HTTP server."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import jwt as pyjwt
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from nacl.signing import SigningKey

from hub.credentials.baking import bake_png
from hub.credentials.ob3keys import multikey_from_public
from hub.demo import badge_png
from tests.hub.verification.support import check, statuses

pytestmark = pytest.mark.usefixtures("settings")
EMAIL = "jan.kowalski@example.edu"
PNG_DATA = "data:image/png;base64," + base64.b64encode(badge_png()).decode()


def _moodle_assertion(base: str, *, expires: str | None = None) -> dict:
    salt = "moodle-site-salt"
    url = f"{base}/badges/assertion.php?b=abc123&obversion=2"
    doc = {
        "recipient": {
            "identity": "sha256$" + hashlib.sha256((EMAIL + salt).encode()).hexdigest(),
            "type": "email",
            "hashed": True,
            "salt": salt,
        },
        "badge": {
            "name": "Ukończenie kursu",
            "description": "Kurs Moodle",
            "image": PNG_DATA,
            "criteria": {"id": f"{base}/badges/badge.php?hash=abc123", "narrative": "Ukończ kurs"},
            "@context": "https://w3id.org/openbadges/v2",
            "id": f"{base}/badges/badge_json.php?id=3",
            "type": "BadgeClass",
            "version": "",
            "@language": "pl",
            "issuer": {
                "name": "Moodle szkoła",
                "url": base,
                "email": "admin@example.edu",
                "@context": "https://w3id.org/openbadges/v2",
                "id": f"{base}/badges/badge_json.php?id=3&action=0&obversion=2",
                "type": "Issuer",
            },
        },
        "verify": {"type": "hosted", "url": url},
        "issuedOn": "2026-11-02T10:15:00+01:00",
        "evidence": f"{base}/badges/badge.php?hash=abc123",
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Assertion",
        "id": url,
    }
    if expires:
        doc["expires"] = expires
    return doc


def _serve_moodle(httpserver, doc, status=200):
    httpserver.expect_request("/badges/assertion.php", query_string="b=abc123&obversion=2").respond_with_json(
        doc, status=status
    )
    return doc.get("id")


def test_moodle_hosted_assertion_url_and_baked_png(app, httpserver):
    base = httpserver.url_for("").rstrip("/")
    url = _serve_moodle(httpserver, _moodle_assertion(base))
    v = check(app, emails=[EMAIL], url=url)
    assert v.state == "valid", v.as_json()
    assert statuses(v) | {} == {
        "hosted": "passed",
        "badge_class": "passed",
        "issuer": "passed",
        "recipient": "passed",
        "expiry": "passed",
        "image": "passed",
    }
    assert v.name == "Ukończenie kursu" and v.issuer_name == "Moodle szkoła"
    baked = bake_png(badge_png(), "openbadges", url)  # Moodle bakes the assertion URL
    assert check(app, emails=[EMAIL], data=baked).state == "valid"
    assert check(app, emails=["inna@example.edu"], data=baked).state == "invalid"


def test_moodle_expired_and_gone(app, httpserver):
    base = httpserver.url_for("").rstrip("/")
    url = _serve_moodle(httpserver, _moodle_assertion(base, expires="2026-01-01T00:00:00+01:00"))
    v = check(app, emails=[EMAIL], url=url)
    assert v.state == "expired" and [c.code for c in v.checks if c.status == "failed"] == ["expired"]
    httpserver.clear()
    _serve_moodle(httpserver, {"revoked": True, "revocationReason": "Błąd"}, status=410)
    assert check(app, emails=[EMAIL], url=url).state == "revoked"


@pytest.mark.parametrize(
    "identity,hashed,salt",
    [
        ("md5$" + hashlib.md5(EMAIL.encode()).hexdigest().upper(), True, None),
        ("sha256$" + hashlib.sha256(EMAIL.encode()).hexdigest().upper(), True, None),
        ("SHA256$" + hashlib.sha256((EMAIL + "s").encode()).hexdigest(), True, "s"),
        ("Jan.Kowalski@Example.EDU", False, None),
    ],
)
def test_ob2_identities_real_badges_carry(app, httpserver, identity, hashed, salt):
    base = httpserver.url_for("").rstrip("/")
    doc = _moodle_assertion(base)
    doc["recipient"] = {"identity": identity, "type": "email", "hashed": hashed, **({"salt": salt} if salt else {})}
    url = _serve_moodle(httpserver, doc)
    v = check(app, emails=[EMAIL], url=url)
    assert statuses(v)["recipient"] == "passed" and v.state == "valid", v.as_json()


# ---- OB 3.0 by other libraries -------------------------------------------------------------------


def _credential(issuer: str, *, valid_until: str | None = None) -> dict:
    now = datetime.now(UTC).replace(microsecond=0)
    cred = {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        "id": "urn:uuid:6a1b3f4e-0f7c-4b5e-9d0a-3c2b1a0f9e8d",
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "issuer": {"id": issuer, "type": ["Profile"], "name": "Inna Uczelnia"},
        "validFrom": (now - timedelta(days=1)).isoformat().replace("+00:00", "Z"),
        "name": "Analiza danych",
        "credentialSubject": {
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "identityHash": "sha256$" + hashlib.sha256((EMAIL + "pepper").encode()).hexdigest(),
                    "salt": "pepper",
                }
            ],
            "achievement": {
                "id": "https://uczelnia.example/achievements/1",
                "type": ["Achievement"],
                "name": "Analiza danych",
                "description": "Kurs",
                "criteria": {"narrative": "Zdaj"},
            },
        },
    }
    if valid_until:
        cred["validUntil"] = valid_until
    return cred


def _jcs_sign(doc: dict, key: SigningKey, vm: str) -> dict:
    """eddsa-jcs-2022 (W3C vc-di-eddsa §3.3), written here with PyNaCl and rfc8785, not the hub's code."""
    proof = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-jcs-2022",
        "created": "2026-11-30T10:00:00Z",
        "verificationMethod": vm,
        "proofPurpose": "assertionMethod",
        "@context": doc["@context"],
    }
    data = hashlib.sha256(rfc8785.dumps(proof)).digest() + hashlib.sha256(rfc8785.dumps(doc)).digest()
    import base58

    proof.pop("@context")
    proof["proofValue"] = "z" + base58.b58encode(key.sign(data).signature).decode()
    return {**doc, "proof": [proof]}


def test_eddsa_jcs_2022_by_pynacl_with_did_key(app):
    key = SigningKey.generate()
    did = "did:key:" + multikey_from_public(bytes(key.verify_key))
    signed = _jcs_sign(_credential(did), key, f"{did}#{did.removeprefix('did:key:')}")
    v = check(app, emails=[EMAIL], text=json.dumps(signed))
    assert v.state == "valid", v.as_json()
    assert statuses(v)["proof"] == "passed" and statuses(v)["schema"] == "passed"
    assert statuses(v)["revocation"] == "skipped"
    tampered = json.loads(json.dumps(signed))
    tampered["credentialSubject"]["achievement"]["name"] = "Coś innego"
    v = check(app, emails=[EMAIL], text=json.dumps(tampered))
    assert v.state == "invalid" and [c.code for c in v.checks if c.status == "failed"] == ["bad-proof"]
    other = SigningKey.generate()
    impostor = _jcs_sign(_credential(did), other, "did:key:" + multikey_from_public(bytes(other.verify_key)))
    assert check(app, emails=[EMAIL], text=json.dumps(impostor)).state == "invalid"
    expired = _jcs_sign(_credential(did, valid_until="2026-01-01T00:00:00Z"), key, f"{did}#{did[8:]}")
    assert check(app, emails=[EMAIL], text=json.dumps(expired)).state == "expired"


def _jwk_of(public) -> dict:
    return json.loads(
        pyjwt.algorithms.get_default_algorithms()[
            "ES256" if isinstance(public, ec.EllipticCurvePublicKey) else "RS256"
        ].to_jwk(public)
    )


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_vc_jwt_by_pyjwt_with_did_web(app, httpserver, alg):
    private = ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" else rsa.generate_private_key(65537, 2048)
    host = f"localhost%3A{httpserver.port}"
    did = f"did:web:{host}:issuers:x"
    doc = {
        "@context": ["https://www.w3.org/ns/did/v1"],
        "id": did,
        "verificationMethod": [
            {"id": f"{did}#k1", "type": "JsonWebKey", "controller": did, "publicKeyJwk": _jwk_of(private.public_key())}
        ],
        "assertionMethod": [f"{did}#k1"],
    }
    httpserver.expect_request("/issuers/x/did.json").respond_with_json(doc)
    cred = _credential(did)
    token = pyjwt.encode(
        {**cred, "iss": did, "jti": cred["id"]}, private, algorithm=alg, headers={"kid": f"{did}#k1", "typ": "JWT"}
    )
    v = check(app, emails=[EMAIL], text=token)
    assert v.state == "valid", v.as_json()
    assert v.kind == "ob3-vc-jwt"


def test_vc_jwt_eddsa_with_https_jwks_issuer(app, httpserver):
    from cryptography.hazmat.primitives.asymmetric import ed25519

    private = ed25519.Ed25519PrivateKey.generate()
    jwk = json.loads(pyjwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request("/jwks.json").respond_with_json({"keys": [{**jwk, "kid": "k1"}]})
    issuer = f"{base}/issuer"
    cred = _credential(issuer)
    token = pyjwt.encode(
        {"vc": cred, "iss": issuer, "jti": cred["id"]},
        private,
        algorithm="EdDSA",
        headers={"kid": f"{base}/jwks.json#k1"},
    )
    assert check(app, emails=[EMAIL], text=token).state == "valid"
    other = ed25519.Ed25519PrivateKey.generate()
    forged = pyjwt.encode(
        {"vc": cred, "iss": issuer}, other, algorithm="EdDSA", headers={"kid": f"{base}/jwks.json#k1"}
    )
    v = check(app, emails=[EMAIL], text=forged)
    assert v.state == "invalid" and [c.code for c in v.checks if c.status == "failed"] == ["bad-signature"]
    none_alg = pyjwt.encode({"vc": cred, "iss": issuer}, None, algorithm="none")
    assert check(app, emails=[EMAIL], text=none_alg + "x").state == "invalid"


def test_1edtech_revocation_list_of_another_issuer(app, httpserver):
    key = SigningKey.generate()
    did = "did:key:" + multikey_from_public(bytes(key.verify_key))
    listed = httpserver.url_for("/revocations")
    cred = _credential(did)
    cred["credentialStatus"] = {"id": listed, "type": "1EdTechRevocationList"}
    signed = _jcs_sign(cred, key, f"{did}#{did[8:]}")
    httpserver.expect_request("/revocations").respond_with_json({"id": listed, "revokedCredentials": []})
    v = check(app, emails=[EMAIL], text=json.dumps(signed))
    assert v.state == "valid" and statuses(v)["revocation"] == "passed", v.as_json()
    httpserver.clear()
    httpserver.expect_request("/revocations").respond_with_json(
        {"id": listed, "revokedCredentials": [{"id": cred["id"], "revocationReason": "Plagiat"}]}
    )
    v = check(app, emails=[EMAIL], text=json.dumps(signed))
    assert v.state == "revoked" and "Plagiat" in [c for c in v.checks if c.name == "revocation"][0].reason.english


def test_pdf_of_another_issuer_embedding_a_credential(app):
    import io

    from pypdf import PdfWriter

    key = SigningKey.generate()
    did = "did:key:" + multikey_from_public(bytes(key.verify_key))
    signed = _jcs_sign(_credential(did), key, f"{did}#{did[8:]}")
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_attachment("credential.json", json.dumps(signed).encode())
    out = io.BytesIO()
    writer.write(out)
    v = check(app, emails=[EMAIL], data=out.getvalue())
    assert v.state == "valid", v.as_json()
    assert statuses(v)["pdf_signature"] == "skipped" and statuses(v)["pdf_credential"] == "passed"
    assert v.kind == "pdf+ob3-data-integrity"
    bare = io.BytesIO()
    empty = PdfWriter()
    empty.add_blank_page(595, 842)
    empty.write(bare)
    v = check(app, emails=[EMAIL], data=bare.getvalue())
    assert v.state == "invalid" and [c.code for c in v.checks if c.status == "failed"] == ["pdf-no-credential"]


def test_scheduled_reverify_targets_follow_the_setting(app, ctx):
    from hub import jobs
    from hub.backpack.models import ImportedBadge
    from hub.learners.models import Learner
    from hub.operations.backpack import REVERIFY

    spec = jobs.KINDS[REVERIFY]
    with ctx.db.session_scope() as s:
        assert list(spec.schedule.targets(s, ctx)) == []  # nothing imported: no empty job every day
        learner = Learner()
        s.add(learner)
        s.flush()
        s.add(
            ImportedBadge(
                learner_id=learner.id,
                badge_key="k",
                source="text",
                kind="ob3",
                state="valid",
                checks=[],
                checked_at=datetime.now(UTC),
            )
        )
        s.flush()
        assert list(spec.schedule.targets(s, ctx)) == [("all", {}, None, 24 * 3600)]
        off = type("C", (), {"settings": ctx.settings.with_(backpack_recheck_hours=0)})()
        assert list(spec.schedule.targets(s, off)) == []
