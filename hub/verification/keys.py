"""Finding an issuer's public key: ``did:key``, ``did:web`` and HTTPS key documents (JWK, JWKS,
Multikey, OB 2.0 CryptographicKey), every download through :class:`hub.verification.fetch.Fetcher`.

Specs: did:key https://w3c-ccg.github.io/did-key-spec/ (Ed25519 ``z6Mk`` only), did:web
https://w3c-ccg.github.io/did-method-web/ (§3.2 Read: ``did:web:host[:path]`` →
``https://host[/path]/did.json``, or ``/.well-known/did.json`` without a path; a percent-encoded port is
decoded), Multikey https://www.w3.org/TR/controller-document/#multikey, JWK RFC 7517.
With ``HUB_VERIFY_ALLOW_PRIVATE_HOSTS`` on, a did:web on a loopback host is read over ``http://``
(development servers have no certificate).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urldefrag, urlsplit

from hub.credentials.ob3keys import public_from_multikey
from hub.i18n import lazy as _l
from hub.netguard import is_local_host
from hub.verification.fetch import Fetcher, FetchError


class KeyProblem(Exception):
    """No usable key: ``reason`` (lazy text), ``code`` (``unknown-method``, ``key-not-found``, ...)."""

    def __init__(self, reason, code: str):
        super().__init__(code)
        self.reason, self.code = reason, code


@dataclass(frozen=True)
class PublicKey:
    """A resolved key: ``controller`` (the DID or URL that controls it), ``jwk`` (RFC 7517 dict), and
    ``ed25519`` (raw 32 bytes, for Data Integrity) when it is an Ed25519 key."""

    controller: str
    jwk: dict | None = None
    ed25519: bytes | None = None
    pem: str | None = None


def did_web_url(did: str, *, allow_http_loopback: bool = False) -> str:
    """The URL of a ``did:web`` DID document.

    Raises:
        KeyProblem: not a did:web.
    """
    parts = did.split(":")
    if len(parts) < 3 or parts[:2] != ["did", "web"] or not parts[2]:
        raise KeyProblem(_l("%(did)s is not a did:web", did=did), "bad-did")
    host = unquote(parts[2])
    path = "/".join(unquote(p) for p in parts[3:])
    scheme = "http" if allow_http_loopback and is_local_host(urlsplit(f"//{host}").hostname) else "https"
    return f"{scheme}://{host}/{path}/did.json" if path else f"{scheme}://{host}/.well-known/did.json"


def _b64url_decode(value: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _from_method(vm: dict, controller: str) -> PublicKey:
    if vm.get("publicKeyMultibase"):
        try:
            raw = public_from_multikey(vm["publicKeyMultibase"])
        except ValueError:
            raise KeyProblem(_l("the key is not an Ed25519 Multikey"), "unsupported-key") from None
        return PublicKey(controller, _okp_jwk(raw), raw)
    if isinstance(vm.get("publicKeyJwk"), dict):
        return from_jwk(vm["publicKeyJwk"], controller)
    if vm.get("publicKeyPem"):
        return PublicKey(controller, pem=vm["publicKeyPem"])
    raise KeyProblem(_l("the verification method has no public key"), "key-not-found")


def _okp_jwk(raw: bytes) -> dict:
    import base64

    return {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")}


def from_jwk(jwk: dict, controller: str) -> PublicKey:
    """A :class:`PublicKey` from a JWK (private members dropped)."""
    public = {k: v for k, v in jwk.items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
    raw = None
    if public.get("kty") == "OKP" and public.get("crv") == "Ed25519" and isinstance(public.get("x"), str):
        raw = _b64url_decode(public["x"])
    return PublicKey(controller, public, raw)


def _did_key(did_url: str) -> PublicKey:
    did = did_url.split("#", 1)[0]
    try:
        raw = public_from_multikey(did.removeprefix("did:key:"))
    except ValueError:
        raise KeyProblem(_l("%(did)s is not an Ed25519 did:key", did=did), "unsupported-key") from None
    return PublicKey(did, _okp_jwk(raw), raw)


def _did_web(did_url: str, fetcher: Fetcher) -> PublicKey:
    did, _, fragment = did_url.partition("#")
    url = did_web_url(did, allow_http_loopback=fetcher.allow_private)
    doc = fetcher.get(url).json()
    if not isinstance(doc, dict) or doc.get("id") != did:
        raise KeyProblem(_l("the DID document at %(url)s is not that of %(did)s", url=url, did=did), "did-mismatch")
    methods = [m for m in doc.get("verificationMethod") or [] if isinstance(m, dict)]
    wanted = [m for m in methods if m.get("id") in (did_url, f"#{fragment}")] if fragment else methods[:1]
    if not wanted:
        raise KeyProblem(_l("%(id)s is not in the issuer's DID document", id=did_url), "key-not-found")
    assertion = doc.get("assertionMethod")
    if fragment and isinstance(assertion, list):
        ids = {a if isinstance(a, str) else a.get("id") for a in assertion}
        if did_url not in ids and f"#{fragment}" not in ids:
            raise KeyProblem(
                _l("%(id)s may not sign credentials (not an assertionMethod)", id=did_url), "not-assertion"
            )
    return _from_method(wanted[0], did)


def _https(url: str, fetcher: Fetcher) -> PublicKey:
    base, fragment = urldefrag(url)
    doc = fetcher.get(base).json()
    if not isinstance(doc, dict):
        raise KeyProblem(_l("%(url)s is not a key document", url=url), "key-not-found")
    if isinstance(doc.get("keys"), list):  # a JWKS
        keys = [k for k in doc["keys"] if isinstance(k, dict)]
        chosen = [k for k in keys if fragment and k.get("kid") in (fragment, url)] or (keys if len(keys) == 1 else [])
        if not chosen:
            raise KeyProblem(
                _l("no key %(kid)s in the JWKS at %(url)s", kid=fragment or "?", url=base), "key-not-found"
            )
        return from_jwk(chosen[0], doc.get("issuer") or base)
    if doc.get("kty"):
        return from_jwk(doc, base)
    owner = doc.get("controller") or doc.get("owner") or base
    return _from_method(doc, owner if isinstance(owner, str) else base)


def resolve(key_id: str, fetcher: Fetcher) -> PublicKey:
    """The public key that ``key_id`` (a DID URL or an https URL) names.

    Raises:
        KeyProblem: unknown method, no such key, or an unsupported key type.
        FetchError: a download failed (see :class:`Fetcher`).
    """
    if not isinstance(key_id, str) or not key_id:
        raise KeyProblem(_l("the proof names no key"), "no-key-id")
    if key_id.startswith("did:key:"):
        return _did_key(key_id)
    if key_id.startswith("did:web:"):
        return _did_web(key_id, fetcher)
    if key_id.startswith(("https://", "http://")):
        return _https(key_id, fetcher)
    raise KeyProblem(
        _l("keys named %(id)s cannot be resolved (did:key, did:web or https only)", id=key_id[:80]), "unknown-method"
    )


def controlled_by(key: PublicKey, key_id: str, issuer_id: str) -> bool:
    """Whether the key belongs to the issuer: the same DID, or (https issuers) the same origin."""
    if issuer_id.startswith("did:"):
        return key_id.split("#", 1)[0] == issuer_id and key.controller == issuer_id
    a, b = urlsplit(key_id), urlsplit(issuer_id)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc) and a.scheme in ("http", "https")


__all__ = ["FetchError", "KeyProblem", "PublicKey", "controlled_by", "did_web_url", "from_jwk", "resolve"]
