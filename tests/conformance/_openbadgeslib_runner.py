"""Runs openbadgeslib (PyPI, LGPL, by other authors) on the hub's badges; one process for a batch.

Run by tests/conformance/test_openbadgeslib.py as ``python -I _openbadgeslib_runner.py`` (a process of
its own: openbadgeslib primes pyld's process-wide context cache with its own copies of the contexts,
which must not leak into the hub's canonicalisation in the test process).

stdin: ``{"extraContexts": {url: document}, "items": [{"name", "kind", ...}]}`` where ``kind`` is
``ob2-hosted`` (``document``), ``ob2-signed`` (``token``), ``ob2-baked`` / ``ob3-baked`` (``data``:
base64 image), ``ob3-ldp`` (``document``) or ``ob3-jwt`` (``token``); ``recipient`` (OB 2.0 e-mail).
stdout: ``{"results": {name: {"valid", "reason", "trusted"}}}``.

Network: openbadgeslib fetches only through the ``download`` callable it is given. Here that callable
allows loopback URLs only, and asks ``https://127.0.0.1:<port>`` (did:web resolution is HTTPS by
definition) as ``http://`` from the test server; anything else is refused.

Status lists: OB 3.0 credentials are checked with ``check_status=True``. A VC-JWT's list is the
list's VC-JWT form and its signature is verified (``verify_status_list=True``); a Data Integrity
credential's list carries a Data Integrity proof, which openbadgeslib does not verify (it verifies
JWT lists only), so its bits are read with ``verify_status_list=False`` (the Node verifiers verify that
proof).
"""

from __future__ import annotations

import base64
import json
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit, urlunsplit

from openbadgeslib.ob2 import OB2VerificationError, OB2Verifier
from openbadgeslib.ob3 import OB3LdpVerifier, OB3VerificationError, OB3Verifier
from openbadgeslib.ob3 import contexts as obl_contexts
from openbadgeslib.verify import issuer_did_from_document, issuer_did_from_token, verify_badge

LOOPBACK = {"127.0.0.1", "localhost"}


def download(url: str) -> bytes:
    parts = urlsplit(url)
    if parts.hostname not in LOOPBACK:
        raise ValueError(f"offline test: refusing to fetch {url}")
    local = urlunsplit(("http", parts.netloc, parts.path, parts.query, ""))
    with urllib.request.urlopen(local, timeout=30) as r:  # noqa: S310 (loopback only, checked above)
        return r.read()


def allow_contexts(extra: dict) -> None:
    """Add the hub's own extension contexts to openbadgeslib's allowlist, as an operator who accepts
    that extension does (the library refuses unknown contexts and fetches none)."""
    original = obl_contexts.load_context

    def load_context(url: str):
        return extra[url] if url in extra else original(url)

    obl_contexts.load_context = load_context
    for url in extra:
        obl_contexts._URL_TO_RESOURCE.setdefault(url, "hub-extension")


def run(item: dict) -> dict:
    kind = item["kind"]
    recipient = item.get("recipient")
    try:
        if kind == "ob2-hosted":
            OB2Verifier(download=download).verify_hosted(
                item["document"], expected_recipient=recipient, check_revocation=True
            )
        elif kind == "ob2-signed":
            OB2Verifier(download=download).verify(item["token"], expected_recipient=recipient, check_revocation=True)
        elif kind == "ob2-baked":
            data = base64.b64decode(item["data"])
            extract = (
                OB2Verifier.extract_token_from_png
                if data.startswith(b"\x89PNG")
                else OB2Verifier.extract_token_from_svg
            )
            token = extract(data).strip()
            verifier = OB2Verifier(download=download)
            if token.startswith("{"):
                verifier.verify_hosted(token, expected_recipient=recipient, check_revocation=True)
            elif token.count(".") == 2:
                verifier.verify(token, expected_recipient=recipient, check_revocation=True)
            else:  # a baked URL (SVG ``verify``): the hosted assertion it names, fetched as the library does
                try:
                    document = download(token).decode()
                except urllib.error.HTTPError as exc:
                    return {"valid": False, "reason": f"Could not fetch hosted assertion at {token}: {exc}"}
                verifier.verify_hosted(document, expected_recipient=recipient, check_revocation=True)
        elif kind == "ob3-baked":
            data = base64.b64decode(item["data"])
            result = verify_badge(
                data,
                "3",
                resolve_did=True,
                check_status=True,
                verify_status_list=item.get("verifyStatusList", True),
                download=download,
            )
            return {"valid": result.valid, "trusted": result.trusted, "reason": result.reason}
        elif kind == "ob3-ldp":
            text = json.dumps(item["document"])
            did = issuer_did_from_document(text)
            OB3LdpVerifier.for_issuer_did(did, download=download).verify(
                text, check_status=True, download=download, verify_status_list=False
            )
        elif kind == "ob3-jwt":
            did = issuer_did_from_token(item["token"])
            OB3Verifier.for_issuer_did(did, download=download).verify(
                item["token"], check_status=True, verify_status_list=True, download=download
            )
        else:
            return {"valid": False, "reason": f"unknown kind {kind}"}
    except (OB2VerificationError, OB3VerificationError) as exc:
        return {"valid": False, "reason": str(exc)}
    except Exception as exc:  # a crash is a failure with its reason, never a pass
        return {"valid": False, "reason": f"crash: {type(exc).__name__}: {exc}"}
    return {"valid": True, "reason": None}


def main() -> None:
    request = json.load(sys.stdin)
    allow_contexts(request.get("extraContexts") or {})
    results = {item["name"]: run(item) for item in request["items"]}
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main()
