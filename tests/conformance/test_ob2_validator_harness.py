"""Proves the OB 2.0 validator harness on hand-written badges, independent of the hub's code.

Two tiny HTTP servers on 127.0.0.1 (different ports, so different origins) serve an Issuer, a
BadgeClass, a CryptographicKey, Assertions and a PNG, written here by hand after the Open Badges 2.0
spec (https://www.imsglobal.org/sites/default/files/Badges/OBv2p0Final/index.html). The known
blind spots of the validator are pinned as ``test_gap_*`` so the hub's own tests know what they must
check themselves.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import struct
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from joserfc import jws
from joserfc.jwk import RSAKey
from PIL import Image

pytestmark = pytest.mark.conformance

OB2_CONTEXT = "https://w3id.org/openbadges/v2"
JSONLD = "application/ld+json"
ADA = "ada@example.org"
SALT = "pepper-1"
ISSUED_ON = "2024-05-01T12:00:00Z"


class BadgeServer:
    """A loopback HTTP server answering GETs from ``routes``: path -> (status, content type, body)."""

    def __init__(self):
        routes: dict[str, tuple[int, str, bytes]] = {}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                status, content_type, body = routes.get(self.path, (404, "text/plain", b"not found"))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # keep pytest output quiet
                pass

        self.routes = routes
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def put(self, path: str, body: bytes, content_type: str, status: int = 200) -> str:
        self.routes[path] = (status, content_type, body)
        return self.base + path

    def put_json(self, path: str, document: dict, status: int = 200) -> str:
        return self.put(path, json.dumps(document).encode(), JSONLD, status)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 110, 200)).save(out, format="PNG")
    return out.getvalue()


def bake_png_by_hand(png: bytes, text: str) -> bytes:
    """Insert an uncompressed iTXt chunk, keyword ``openbadges``, right after IHDR (OB 2.0 Baking)."""
    data = b"openbadges\x00" + b"\x00\x00" + b"\x00" + b"\x00" + text.encode("utf-8")
    chunk = struct.pack(">I", len(data)) + b"iTXt" + data + struct.pack(">I", zlib.crc32(b"iTXt" + data))
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length+type, IHDR data, CRC
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def bake_svg_by_hand(verify: str) -> bytes:
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:openbadges="http://openbadges.org" '
        'width="8" height="8"><openbadges:assertion verify="' + verify + '"/>'
        '<rect width="8" height="8" fill="#1e6ec8"/></svg>'
    ).encode()


def hashed_email(email: str, salt: str) -> str:
    return "sha256$" + hashlib.sha256((email + salt).encode()).hexdigest()


class Site:
    """One issuer's badge documents on a BadgeServer, with its RSA key for signed assertions."""

    def __init__(self, server: BadgeServer, name: str, revoked: list | None = None):
        self.server, self.base = server, server.base
        self.key = RSAKey.generate_key(2048)
        self.key_url = f"{self.base}/{name}/key"
        self.issuer_url = f"{self.base}/{name}/issuer"
        issuer = {
            "@context": OB2_CONTEXT,
            "type": "Issuer",
            "id": self.issuer_url,
            "name": "Example Academy",
            "url": self.base + "/",
            "email": "badges@example.org",
            "publicKey": self.key_url,
        }
        if revoked is not None:
            issuer["revocationList"] = server.put_json(
                f"/{name}/revocations",
                {
                    "@context": OB2_CONTEXT,
                    "type": "RevocationList",
                    "id": f"{self.base}/{name}/revocations",
                    "issuer": self.issuer_url,
                    "revokedAssertions": revoked,
                },
            )
        server.put_json(f"/{name}/issuer", issuer)
        server.put_json(
            f"/{name}/key",
            {
                "@context": OB2_CONTEXT,
                "type": "CryptographicKey",
                "id": self.key_url,
                "owner": self.issuer_url,
                "publicKeyPem": self.key.as_pem(private=False).decode(),
            },
        )
        self.image_url = server.put(f"/{name}/badge.png", png_bytes(), "image/png")
        self.badge_url = server.put_json(
            f"/{name}/badge",
            {
                "@context": OB2_CONTEXT,
                "type": "BadgeClass",
                "id": f"{self.base}/{name}/badge",
                "name": "Harness Tester",
                "description": "Awarded for proving the OB 2.0 validator harness.",
                "image": self.image_url,
                "criteria": {"narrative": "Run the conformance suite."},
                "issuer": self.issuer_url,
            },
        )

    def assertion(self, assertion_id: str, verification: dict, email: str = ADA) -> dict:
        return {
            "@context": OB2_CONTEXT,
            "type": "Assertion",
            "id": assertion_id,
            "recipient": {
                "type": "email",
                "hashed": True,
                "salt": SALT,
                "identity": hashed_email(email, SALT),
            },
            "badge": self.badge_url,
            "verification": verification,
            "issuedOn": ISSUED_ON,
        }

    def hosted(self, server: BadgeServer | None = None, path: str = "/a/1", status: int = 200) -> str:
        """Publish a hosted assertion on ``server`` (default: the issuer's own); return its URL."""
        server = server or self.server
        document = self.assertion(server.base + path, {"type": "HostedBadge"})
        return server.put_json(path, document, status)

    def signed(self, assertion_id: str | None = None) -> str:
        document = self.assertion(
            assertion_id or f"urn:uuid:{uuid.uuid4()}", {"type": "SignedBadge", "creator": self.key_url}
        )
        return jws.serialize_compact({"alg": "RS256"}, json.dumps(document), self.key)


@pytest.fixture(scope="module")
def servers():
    home, elsewhere = BadgeServer(), BadgeServer()
    yield home, elsewhere
    home.close()
    elsewhere.close()


@pytest.fixture(scope="module")
def site(servers):
    return Site(servers[0], "academy")


def assert_valid(report: dict) -> None:
    assert report["valid"], report["errors"]
    assert report["errorCount"] == 0
    assert report["unrunTasks"] == [], report["unrunTasks"]


def test_hosted_badge_is_valid_for_its_recipient(ob2_validator, site):
    url = site.hosted(path="/a/good")
    report = ob2_validator(url, recipient_email=ADA)
    assert_valid(report)
    assert report["validationSubject"] == url
    assert report["recipientProfile"] == {"email": ADA}
    assert {node.get("type") for node in report["graph"]} >= {"Assertion", "BadgeClass", "Issuer"}


def test_hosted_badge_is_invalid_for_another_recipient(ob2_validator, site):
    report = ob2_validator(site.hosted(path="/a/good"), recipient_email="eve@example.org")
    assert not report["valid"]
    assert any("did not match" in error for error in report["errors"]), report["errors"]


def test_hosted_assertion_on_another_origin_is_invalid(ob2_validator, servers, site):
    url = site.hosted(server=servers[1], path="/a/foreign")
    report = ob2_validator(url, recipient_email=ADA)
    assert not report["valid"]
    assert any("not hosted in allowed origins" in error for error in report["errors"]), report["errors"]


def test_signed_badge_is_valid(ob2_validator, site):
    report = ob2_validator(site.signed(), recipient_email=ADA)
    assert_valid(report)
    assert report["input"]["input_type"] == "jws"


def test_tampered_signed_badge_is_invalid(ob2_validator, site):
    header, payload, signature = site.signed().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["issuedOn"] = "2020-01-01T00:00:00Z"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    report = ob2_validator(f"{header}.{forged}.{signature}", recipient_email=ADA)
    assert not report["valid"]
    assert any("failed verification" in error for error in report["errors"]), report["errors"]


def test_signed_badge_by_a_key_the_issuer_does_not_list_is_invalid(ob2_validator, site, servers):
    stranger = Site(servers[0], "stranger")
    document = site.assertion(f"urn:uuid:{uuid.uuid4()}", {"type": "SignedBadge", "creator": stranger.key_url})
    token = jws.serialize_compact({"alg": "RS256"}, json.dumps(document), stranger.key)
    report = ob2_validator(token, recipient_email=ADA)
    assert not report["valid"]
    assert any("other than those authorized" in error for error in report["errors"]), report["errors"]


def test_baked_png_with_hosted_assertion_is_valid(ob2_validator, site):
    url = site.hosted(path="/a/baked")
    assertion = json.loads(site.server.routes["/a/baked"][2])
    report = ob2_validator(bake_png_by_hand(png_bytes(), json.dumps(assertion)), recipient_email=ADA)
    assert_valid(report)
    assert report["validationSubject"] == url


def test_baked_svg_with_signed_assertion_is_valid(ob2_validator, site, tmp_path):
    image = tmp_path / "badge.svg"
    image.write_bytes(bake_svg_by_hand(site.signed()))
    assert_valid(ob2_validator(image, recipient_email=ADA))


def test_image_without_baked_data_is_invalid(ob2_validator):
    """The validator raises on this (a Python 2 ``e.message``); the harness turns that into a report."""
    report = ob2_validator(png_bytes())
    assert not report["valid"]
    assert "crash" in report


def test_signed_badge_listed_among_two_revocations_is_invalid(ob2_validator, servers):
    assertion_id = f"urn:uuid:{uuid.uuid4()}"
    other = f"urn:uuid:{uuid.uuid4()}"
    issuer = Site(servers[0], "revokes-two", revoked=[{"id": other}, {"id": assertion_id}])
    report = ob2_validator(issuer.signed(assertion_id), recipient_email=ADA)
    assert not report["valid"]
    assert any("has been revoked" in error for error in report["errors"]), report["errors"]


def test_gap_revocation_list_with_one_entry_is_not_seen(ob2_validator, servers):
    """JSON-LD compaction turns a one-item ``revokedAssertions`` into a bare object, which the
    validator then iterates key by key: a revoked signed badge passes. The hub must test this itself."""
    assertion_id = f"urn:uuid:{uuid.uuid4()}"
    issuer = Site(servers[0], "revokes-one", revoked=[{"id": assertion_id, "revocationReason": "test"}])
    assert ob2_validator(issuer.signed(assertion_id), recipient_email=ADA)["valid"]


def test_gap_hosted_assertion_answering_410_gone_still_passes(ob2_validator, site):
    """The validator ignores HTTP status codes: a hosted assertion revoked the OB 2.0 way
    (410 Gone, ``revoked: true``) is still reported valid. The hub must test this itself."""
    url = site.hosted(path="/a/revoked")
    document = json.loads(site.server.routes["/a/revoked"][2])
    site.server.put_json("/a/revoked", {**document, "revoked": True, "revocationReason": "test"}, 410)
    assert ob2_validator(url, recipient_email=ADA)["valid"]


def test_signed_badge_without_creator_is_invalid(ob2_validator, site):
    document = site.assertion(f"urn:uuid:{uuid.uuid4()}", {"type": "SignedBadge"})
    token = jws.serialize_compact({"alg": "RS256"}, json.dumps(document), site.key)
    report = ob2_validator(token, recipient_email=ADA)
    assert not report["valid"]
    assert any(m["name"] == "VERIFY_JWS" and not m["success"] for m in report["messages"]), report["messages"]
