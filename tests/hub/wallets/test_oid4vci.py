"""Into wallets: OpenID4VCI 1.0 pre-authorized code flow over real HTTP.

The wallet here is written from the spec (https://openid.net/specs/openid-4-verifiable-credential-
issuance-1_0.html), with PyJWT (another JOSE library than the hub's joserfc) for the key proofs:
offer link from the learner's page (its QR code decoded with zxing-cpp) -> credential_offer_uri ->
issuer metadata -> authorization server metadata -> token -> nonce -> credential. The received
credentials are verified by the hub's verifier and by openbadgeslib (tests/conformance). Bad input:
reused and expired offers, wrong and reused nonces, a proof signed by another key than it names, an
unknown configuration, no token.
"""

from __future__ import annotations

import base64
import json
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import select, update

from hub.accounts.models import AuditEntry
from hub.credentials import verify as hub_verify
from hub.credentials.ob3keys import multikey_from_public
from hub.db import utcnow
from hub.wallets.models import WalletOffer
from tests.hub.verification.support import EMAIL, award_one

LDP = "OpenBadgeCredential_ldp_vc"
JWT_VC = "OpenBadgeCredential_jwt_vc_json"


def _signed_in(app, email=EMAIL):
    from tests.conftest import Factory

    learner_id = Factory(app.extensions["hub"]).learner(email)
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["learner"] = learner_id
    return client


def _offer_link(client, aid: str) -> tuple[str, str]:
    """POST the learner's 'Add to a wallet' button; returns (link, page HTML)."""
    html = client.get("/me").get_data(as_text=True)
    assert f'/me/badges/{aid}/wallet"' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    page = client.post(f"/me/badges/{aid}/wallet", data={"csrf_token": token})
    assert page.status_code == 200, page.get_data(as_text=True)[:500]
    assert page.headers["Cache-Control"] == "no-store"
    text = page.get_data(as_text=True)
    link = re.search(r'id="wallet-link" href="([^"]+)"', text).group(1).replace("&amp;", "&")
    return link, text


# ---- a wallet written from the spec --------------------------------------------------------------


def _ed25519_jwk(key: ed25519.Ed25519PrivateKey) -> dict:
    raw = key.public_key().public_bytes_raw()
    return {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


class Wallet:
    """The holder's side of §3.5 (pre-authorized code flow), step by step, over HTTP."""

    def __init__(self, link: str):
        parts = urlsplit(link)
        assert parts.scheme == "openid-credential-offer"
        self.offer_uri = parse_qs(parts.query)["credential_offer_uri"][0]
        self.key = ed25519.Ed25519PrivateKey.generate()
        self.did = "did:key:" + multikey_from_public(self.key.public_key().public_bytes_raw())

    def offer(self) -> requests.Response:
        return requests.get(self.offer_uri, timeout=30)

    def metadata(self, issuer: str) -> tuple[dict, dict]:
        meta = requests.get(f"{issuer}/.well-known/openid-credential-issuer", timeout=30)
        assert meta.status_code == 200 and meta.headers["Content-Type"].startswith("application/json")
        issuer_meta = meta.json()
        server = issuer_meta.get("authorization_servers", [issuer])[0]
        as_meta = requests.get(f"{server}/.well-known/oauth-authorization-server", timeout=30).json()
        return issuer_meta, as_meta

    def token(self, as_meta: dict, code: str) -> requests.Response:
        return requests.post(
            as_meta["token_endpoint"],
            data={"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code", "pre-authorized_code": code},
            timeout=30,
        )

    def nonce(self, meta: dict) -> str:
        r = requests.post(meta["nonce_endpoint"], timeout=30)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
        return r.json()["c_nonce"]

    def proof(self, aud: str, nonce: str | None, *, by_kid: bool = False, key=None, **claims) -> str:
        header = {"typ": "openid4vci-proof+jwt"}
        if by_kid:
            header["kid"] = f"{self.did}#{self.did.removeprefix('did:key:')}"
        else:
            header["jwk"] = _ed25519_jwk(self.key)
        payload = {"aud": aud, "iat": int(time.time()), **claims}
        if nonce is not None:
            payload["nonce"] = nonce
        return jwt.encode(payload, key or self.key, algorithm="EdDSA", headers=header)

    def credential(self, meta: dict, access_token: str, config_id: str, proof: str) -> requests.Response:
        return requests.post(
            meta["credential_endpoint"],
            json={"credential_configuration_id": config_id, "proofs": {"jwt": [proof]}},
            headers={"Authorization": f"Bearer {access_token}"},
            timeout=30,
        )

    def receive(self, config_id: str, *, by_kid: bool = False):
        offer = self.offer().json()
        issuer = offer["credential_issuer"]
        assert config_id in offer["credential_configuration_ids"]
        code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"]
        meta, as_meta = self.metadata(issuer)
        token = self.token(as_meta, code)
        assert token.status_code == 200, token.text
        body = token.json()
        assert body["token_type"] == "Bearer" and body["expires_in"] > 0
        r = self.credential(meta, body["access_token"], config_id, self.proof(issuer, self.nonce(meta), by_kid=by_kid))
        assert r.status_code == 200, r.text
        return r.json()["credentials"][0]["credential"], issuer, meta, as_meta, body["access_token"], code


def _run_openbadgeslib(ctx, items):
    from tests.conformance.test_openbadgeslib import run_openbadgeslib

    return run_openbadgeslib(ctx, items)


# ---- tests ---------------------------------------------------------------------------------------


def test_metadata_names_both_formats_and_the_pre_authorized_grant(live_server):
    base = live_server.extensions["hub"].settings.base_url
    meta = requests.get(f"{base}/.well-known/openid-credential-issuer", timeout=30).json()
    assert meta["credential_issuer"] == base
    configs = meta["credential_configurations_supported"]
    assert {c["format"] for c in configs.values()} == {"ldp_vc", "jwt_vc_json"}
    assert configs[LDP]["credential_signing_alg_values_supported"] == ["eddsa-rdfc-2022"]
    assert configs[JWT_VC]["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"]
    assert meta["nonce_endpoint"].startswith(base) and meta["credential_endpoint"].startswith(base)
    as_meta = requests.get(f"{base}/.well-known/oauth-authorization-server", timeout=30).json()
    assert "urn:ietf:params:oauth:grant-type:pre-authorized_code" in as_meta["grant_types_supported"]
    assert as_meta["token_endpoint"] == f"{base}/oauth/token"  # the hub's one authorization server
    assert "authorization_code" in as_meta["grant_types_supported"]  # the Open Badges API's, same document


def test_wallet_receives_both_formats_bound_to_its_key_and_verifiers_accept_them(live_server):
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    client = _signed_in(live_server)
    received = {}
    for config_id, by_kid in ((LDP, False), (JWT_VC, True)):
        link, page = _offer_link(client, aid)
        assert "10 min" in page  # "expires in 10 minutes" / Polish "za 10 min."
        svg = base64.b64decode(re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', page).group(1))
        assert b"<svg" in svg
        wallet = Wallet(link)
        credential, issuer, *_ = wallet.receive(config_id, by_kid=by_kid)
        received[config_id] = (credential, wallet.did)
    # the QR code on the page is the code of the link (the same SVG qrcode makes of it)
    import io

    import qrcode
    import qrcode.image.svg

    expected = io.BytesIO()
    qrcode.make(link, image_factory=qrcode.image.svg.SvgPathImage).save(expected)
    assert svg == expected.getvalue()

    ldp, holder = received[LDP]
    assert ldp["credentialSubject"].get("id") == holder and ldp["proof"], json.dumps(ldp)[:3000]
    assert hub_verify.verify_data_integrity(ldp, email=EMAIL).valid
    token, holder2 = received[JWT_VC]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["sub"] == holder2 == claims["credentialSubject"]["id"]
    report = hub_verify.verify_vc_jwt(token, email=EMAIL)
    assert report.valid, report.errors
    results = _run_openbadgeslib(
        ctx,
        {
            "wallet ldp": {"kind": "ob3-ldp", "document": ldp, "verifyStatusList": False},
            "wallet jwt": {"kind": "ob3-jwt", "token": token},
        },
    )
    assert all(r["valid"] for r in results.values()), results
    with ctx.db.session_scope() as s:
        issued = s.scalars(select(AuditEntry).where(AuditEntry.action == "wallet.issue")).all()
        assert sorted(e.after["format"] for e in issued) == ["jwt_vc_json", "ldp_vc"]
        assert {e.object_id for e in issued} == {aid}
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "wallet.offer")).all()) == 2
        rows = s.scalars(select(WalletOffer)).all()
        secret = urlsplit(parse_qs(urlsplit(link).query)["credential_offer_uri"][0]).path.rsplit("/", 1)[1]
        stored = json.dumps([[r.offer_hash, r.code_hash, r.token_hash] for r in rows])
        assert secret not in stored and all(len(r.offer_hash) == 64 for r in rows)


def _error(r: requests.Response, status: int, code: str):
    assert r.status_code == status, r.text
    assert r.json()["error"] == code, r.text
    assert r.json()["error_description"]
    assert r.headers["Cache-Control"] == "no-store"


def test_offer_is_single_use_and_expires(live_server):
    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    client = _signed_in(live_server)
    wallet = Wallet(_offer_link(client, aid)[0])
    _credential, _issuer, _meta, as_meta, access_token, code = wallet.receive(LDP)
    _error(wallet.offer(), 404, "invalid_request")  # the offer is gone once redeemed
    _error(wallet.token(as_meta, code), 400, "invalid_grant")  # the code works once
    # the token got one credential; a second request with it is refused
    meta = wallet.metadata(ctx.settings.base_url)[0]
    again = wallet.credential(meta, access_token, LDP, wallet.proof(ctx.settings.base_url, wallet.nonce(meta)))
    _error(again, 401, "invalid_token")
    assert again.headers["WWW-Authenticate"].startswith("Bearer")

    late = Wallet(_offer_link(client, aid)[0])
    code = late.offer().json()["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"]
    with ctx.db.session_scope() as s:
        s.execute(update(WalletOffer).values(expires_at=utcnow() - timedelta(seconds=1)))
    _error(late.offer(), 404, "invalid_request")
    _error(late.token(as_meta, code), 400, "invalid_grant")
    _error(late.token(as_meta, "made-up"), 400, "invalid_grant")
    r = requests.post(as_meta["token_endpoint"], data={"grant_type": "password", "code": "x"}, timeout=30)
    assert (r.status_code, r.json()["error"]) == (400, "unsupported_grant_type"), r.text  # Authlib's answer
    # offers long expired are deleted when the next one is made
    with ctx.db.session_scope() as s:
        s.execute(update(WalletOffer).values(expires_at=utcnow() - timedelta(days=1)))
    _offer_link(client, aid)
    with ctx.db.session_scope() as s:
        assert len(s.scalars(select(WalletOffer)).all()) == 1


def test_bad_proofs_nonces_and_requests_are_refused_with_the_spec_errors(live_server):
    ctx = live_server.extensions["hub"]
    base = ctx.settings.base_url
    aid = award_one(live_server)
    wallet = Wallet(_offer_link(_signed_in(live_server), aid)[0])
    offer = wallet.offer().json()
    meta, as_meta = wallet.metadata(base)
    code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["pre-authorized_code"]
    access = wallet.token(as_meta, code).json()["access_token"]

    def ask(proof, config=LDP, token=access):
        return wallet.credential(meta, token, config, proof)

    _error(ask(wallet.proof(base, "not-a-nonce-of-ours")), 400, "invalid_nonce")
    _error(ask(wallet.proof(base, None)), 400, "invalid_nonce")
    other = ed25519.Ed25519PrivateKey.generate()
    _error(ask(wallet.proof(base, wallet.nonce(meta), key=other)), 400, "invalid_proof")  # jwk names our key
    _error(ask(wallet.proof("https://elsewhere.example", wallet.nonce(meta))), 400, "invalid_proof")
    _error(ask(wallet.proof(base, wallet.nonce(meta), iat=int(time.time()) - 3600)), 400, "invalid_proof")
    p256 = ec.generate_private_key(ec.SECP256R1())
    untyped = jwt.encode({"aud": base, "iat": int(time.time()), "nonce": wallet.nonce(meta)}, p256, algorithm="ES256")
    _error(ask(untyped), 400, "invalid_proof")  # typ JWT, no key named
    _error(
        ask(wallet.proof(base, wallet.nonce(meta)), config="mso_mdoc_thing"), 400, "unknown_credential_configuration"
    )
    _error(ask(wallet.proof(base, wallet.nonce(meta)), token="made-up"), 401, "invalid_token")
    r = requests.post(meta["credential_endpoint"], json={"credential_configuration_id": LDP}, timeout=30)
    _error(r, 401, "invalid_token")
    r = requests.post(
        meta["credential_endpoint"],
        json={"credential_configuration_id": LDP},
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    )
    _error(r, 400, "invalid_proof")
    # a nonce works once: the first (good) request uses it, the second is refused
    nonce = wallet.nonce(meta)
    assert ask(wallet.proof(base, nonce)).status_code == 200
    with ctx.db.session_scope() as s:
        s.execute(update(WalletOffer).values(issued_at=None))  # let the token ask again
    _error(ask(wallet.proof(base, nonce)), 400, "invalid_nonce")
    # RFC 9864's fully specified "Ed25519" is accepted as EdDSA is (PyJWT knows the algorithm as EdDSA)
    fully = jwt.PyJWS()
    fully.register_algorithm("Ed25519", jwt.algorithms.OKPAlgorithm())
    header = {"typ": "openid4vci-proof+jwt", "jwk": _ed25519_jwk(wallet.key)}
    claims = {"aud": base, "iat": int(time.time()), "nonce": wallet.nonce(meta)}
    with ctx.db.session_scope() as s:
        s.execute(update(WalletOffer).values(issued_at=None))
    proof = fully.encode(json.dumps(claims).encode(), wallet.key, algorithm="Ed25519", headers=header)
    assert ask(proof).status_code == 200
    with ctx.db.session_scope() as s:
        s.execute(update(WalletOffer).values(issued_at=None))
    # a P-256 jwk holder is bound as did:jwk
    ok = ask(_p256_proof(p256, base, wallet.nonce(meta)), config=JWT_VC)
    assert ok.status_code == 200, ok.text
    sub = jwt.decode(ok.json()["credentials"][0]["credential"], options={"verify_signature": False})["sub"]
    assert sub.startswith("did:jwk:")


def _p256_proof(key, aud: str, nonce: str) -> str:
    numbers = key.public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes(32, "big")).rstrip(b"=").decode()

    header = {
        "typ": "openid4vci-proof+jwt",
        "jwk": {"kty": "EC", "crv": "P-256", "x": b64(numbers.x), "y": b64(numbers.y)},
    }
    return jwt.encode({"aud": aud, "iat": int(time.time()), "nonce": nonce}, key, algorithm="ES256", headers=header)


def test_offers_only_for_the_learners_own_unrevoked_badges_in_both_languages(live_server):
    from hub.badges import services as badges
    from hub.badges.models import Assertion

    ctx = live_server.extensions["hub"]
    aid = award_one(live_server)
    stranger = _signed_in(live_server, "someone@example.org")
    html = stranger.get("/me").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    assert stranger.post(f"/me/badges/{aid}/wallet", data={"csrf_token": token}).status_code == 404
    owner = _signed_in(live_server)
    _link, page = _offer_link(owner, aid)
    owner.post(
        "/me/settings",
        data={
            "csrf_token": re.search(
                r'name="csrf_token" value="([^"]+)"', owner.get("/me").get_data(as_text=True)
            ).group(1),
            "locale": "pl",
        },
    )
    polish = owner.get("/me").get_data(as_text=True)
    assert "Dodaj do portfela" in polish
    with ctx.db.session_scope() as s:
        badges.revoke(s, ctx, s.scalars(select(Assertion).where(Assertion.public_id == aid)).one(), "mistake")
    assert f'/me/badges/{aid}/wallet"' not in owner.get("/me").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', owner.get("/me").get_data(as_text=True)).group(1)
    assert owner.post(f"/me/badges/{aid}/wallet", data={"csrf_token": token}).status_code == 403


@pytest.mark.parametrize("lang,word", [("pl", "użyty"), ("en", "already used")])
def test_errors_are_in_the_requests_language(live_server, lang, word):
    base = live_server.extensions["hub"].settings.base_url
    r = requests.post(
        f"{base}/oauth/token",
        data={"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code", "pre-authorized_code": "x"},
        headers={"Accept-Language": lang},
        timeout=30,
    )
    assert r.status_code == 400 and word in r.json()["error_description"], r.text


def test_wallet_endpoints_are_rate_limited(settings):
    from hub import create_app

    app = create_app(settings.with_(wallet_rate_limit="2 per minute", obapi_rate_limit="2 per minute"))
    try:
        client = app.test_client()
        assert [client.post("/oid4vci/nonce").status_code for _ in range(3)] == [200, 200, 429]
        token = {"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code", "pre-authorized_code": "x"}
        assert [client.post("/oauth/token", data=token).status_code for _ in range(3)] == [400, 400, 429]
        assert client.get("/.well-known/openid-credential-issuer").status_code == 200  # metadata is not limited
    finally:
        app.extensions["hub.jobs"].shutdown()
        app.extensions["hub"].db.dispose()


def test_input_the_boundary_refuses_is_answered_in_oauth_json(client):
    """Text that cannot be stored, refused before the endpoint runs, still reaches a wallet or an OAuth
    client as ``{"error", "error_description"}`` (RFC 6749 section 5.2), not a problem document."""
    for path, kwargs in (
        ("/oauth/token", {"data": b"grant_type=x&code=%C0%AF", "content_type": "application/x-www-form-urlencoded"}),
        (
            "/oid4vci/credential",
            {"data": b'{"credential_configuration_id": "\\ud800"}', "content_type": "application/json"},
        ),
        ("/oauth/register", {"data": b"{garbage", "content_type": "application/json"}),
    ):
        r = client.post(path, **kwargs)
        assert r.status_code == 400 and r.mimetype == "application/json", (path, r.get_data(as_text=True))
        assert r.get_json()["error"] in ("invalid_request", "invalid_client_metadata"), path  # RFC 7591 3.2.2
        assert r.get_json()["error_description"], path
