"""The hub's checks of its own badges and credentials, over HTTP: what the demo and the tests use to check
a badge the hub just served on its own (often loopback) address: OB 2.0 (hosted, signed, baked) and OB 3.0
(Data Integrity JSON, VC-JWT, baked).

A thin adapter over the verifier for any badge, :func:`hub.verification.verify` (hosted: fetched at
its id, same origin as the issuer, HTTP 410 = revoked; signed: JWS verified with the key at
``verification.creator`` owned by the issuer, id absent from the issuer's RevocationList; recipient by
hashed identity; https://www.imsglobal.org/spec/ob/v2p0/#verification; OB 3.0 proofs, issuer keys,
status lists and recipient: https://www.imsglobal.org/spec/ob/v3p0/#verification-and-validation),
answering the small
:class:`Report` these callers read. Unlike the public verifier it may fetch loopback and private
addresses (the demo's own server): never give it URLs a stranger chose.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace

import requests

from hub.i18n import english

#: Limits of these checks (the hub's own badges): 4 MiB documents, 10 s per download.
_LIMITS = SimpleNamespace(verify_max_bytes=4 * 1024 * 1024, max_image_pixels=4096 * 4096)


@dataclass
class Report:
    """Outcome of a verification: ``valid`` and the list of ``errors`` (English, human-readable), and
    the verified ``assertion`` (None when none was read)."""

    valid: bool = True
    errors: list[str] = field(default_factory=list)
    assertion: dict | None = None


def _run(email: str | None, **given) -> Report:
    from hub.verification import verify
    from hub.verification.fetch import Fetcher
    from hub.verification.report import FAILED

    emails = [email] if email else None  # as typed: the verifier tries its normal and legacy forms
    with Fetcher(max_bytes=_LIMITS.verify_max_bytes, timeout=10, allow_private=True, use_cache=False) as fetcher:
        v = verify(SimpleNamespace(settings=_LIMITS), emails=emails, fetcher=fetcher, **given)  # type: ignore[arg-type]
    errors = [english(c.reason) for c in v.checks if c.status == FAILED]
    return Report(valid=v.valid, errors=errors or ([] if v.valid else [english(v.state)]), assertion=v.document)


def verify_hosted(url: str, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Verify a hosted assertion at ``url`` (optionally for recipient ``email``). ``http`` is accepted
    for compatibility and not used (downloads go through :class:`hub.verification.fetch.Fetcher`)."""
    return _run(email, url=url)


def verify_signed(token: str, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Verify a compact JWS signed assertion (key, owner, revocation list, recipient)."""
    return _run(email, text=token)


def verify_baked(data: bytes, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Unbake a PNG or SVG and verify what it carries (hosted JSON / URL, or JWS)."""
    return _run(email, data=data)


def verify_data_integrity(document: dict, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Verify an OB 3.0 credential with a Data Integrity proof (``eddsa-rdfc-2022`` / ``eddsa-jcs-2022``):
    proof with the issuer's key, contexts, schema, status list, validity window, recipient."""
    return _run(email, text=json.dumps(document))


def verify_vc_jwt(token: str, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Verify an OB 3.0 VC-JWT (OB 3.0 §8.2): the JWS with the ``kid`` key of the issuer, then the
    credential's checks as :func:`verify_data_integrity` (its status list may be a VC-JWT too)."""
    return _run(email, text=token)


def verify_baked_credential(data: bytes, *, email: str | None = None, http: requests.Session | None = None) -> Report:
    """Unbake an OB 3.0 PNG (iTXt ``openbadgecredential``) or SVG (``<openbadges:credential>``) and
    verify the credential it carries (JSON with a proof, or a VC-JWT)."""
    return _run(email, data=data)
