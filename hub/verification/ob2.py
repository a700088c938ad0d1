"""Open Badges 2.0 verification, check by check.

Follows https://www.imsglobal.org/spec/ob/v2p0/#verification:

- hosted (``verification.type`` ``hosted``/``HostedBadge``, or OB 1.x ``verify.type: hosted`` as Moodle
  still writes it): the assertion is fetched at its ``id`` (410 Gone: revoked), its ``badge`` and the
  badge's ``issuer`` fetched (or read where embedded, as Moodle embeds them), and the assertion must be
  on the issuer's origin (or an ``allowedOrigins``/``startsWith`` of the issuer's ``verification``);
- signed (compact JWS): the key at ``verification.creator`` is fetched, its ``owner`` must be the badge's
  issuer, the JWS must verify with it (RS256, :func:`hub.credentials.signing.verify_jws`), and the
  assertion's id must not be in the issuer's ``revocationList``;
- then recipient (:func:`hub.verification.common.check_recipient`), ``expires``, and the badge image.
"""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import urlsplit

from hub.credentials.signing import verify_jws
from hub.errors import HubError
from hub.i18n import lazy as _l
from hub.verification.common import check_image, check_recipient, check_window
from hub.verification.fetch import Fetcher, FetchError
from hub.verification.report import Verdict

log = logging.getLogger(__name__)


def _origin(url) -> tuple[str, str] | None:
    if not isinstance(url, str):
        return None
    p = urlsplit(url)
    return (p.scheme, p.netloc) if p.scheme in ("http", "https") else None


def _node(v: Verdict, value, name: str, fetcher: Fetcher) -> dict | None:
    """A linked document (badge class, issuer): embedded as an object, or fetched at its URL."""
    if isinstance(value, dict):
        v.passed(name, _l("embedded in the assertion: %(name)s", name=value.get("name") or value.get("id") or "?"))
        return value
    if not isinstance(value, str):
        v.failed(name, _l("the assertion does not say which it is"), "missing")
        return None
    try:
        doc = fetcher.get(value).json()
    except FetchError as exc:
        v.failed(name, exc.reason, exc.code)
        return None
    if not isinstance(doc, dict):
        v.failed(name, _l("%(url)s is not a JSON object", url=value), "not-object")
        return None
    v.passed(name, _l("fetched from %(url)s: %(name)s", url=value, name=doc.get("name") or "?"))
    return doc


def _verification_type(doc: dict) -> str:
    block = doc.get("verification") or doc.get("verify") or {}
    kind = str(block.get("type") or "") if isinstance(block, dict) else ""
    return {"hosted": "hosted", "hostedbadge": "hosted", "signed": "signed", "signedbadge": "signed"}.get(
        kind.lower(), ""
    )


def _identities(doc: dict) -> list[dict]:
    r = doc.get("recipient")
    if isinstance(r, str):  # OB 1.0: recipient is the identity, salt beside it
        return [{"identity": r, "hashed": "$" in r, "salt": doc.get("salt"), "type": "email"}]
    if isinstance(r, dict):
        ident = str(r.get("identity") or "")
        hashed = r.get("hashed")
        return [
            {
                "identity": ident,
                "hashed": bool(hashed) if hashed is not None else "$" in ident,
                "salt": r.get("salt"),
                "type": r.get("type") or "email",
            }
        ]
    return []


def _finish(v: Verdict, doc: dict, badge: dict | None, issuer: dict | None, emails) -> None:
    v.document = doc
    if badge:
        v.name = badge.get("name")
    if issuer:
        v.issuer_name = issuer.get("name")
    if doc.get("revoked") is True:
        v.failed("revocation", _l("revoked: %(reason)s", reason=doc.get("revocationReason") or "—"), "revoked")
    check_recipient(v, _identities(doc), emails)
    check_window(v, None, doc.get("expires"))
    check_image(v, (badge or {}).get("image"))


def verify_hosted(v: Verdict, url: str, fetcher: Fetcher, emails) -> None:
    """Verify the hosted assertion at ``url`` into ``v``."""
    v.kind, v.source_url = "ob2-hosted", url
    try:
        got = fetcher.get(url, ok=(200, 410))
        doc = got.json()
    except FetchError as exc:
        v.failed("hosted", exc.reason, exc.code)
        return
    if got.status == 410:
        reason = doc.get("revocationReason") if isinstance(doc, dict) else None
        v.failed("revocation", _l("revoked (the issuer answers 410 Gone): %(reason)s", reason=reason or "—"), "gone")
        return
    if not isinstance(doc, dict) or doc.get("type") not in ("Assertion", None) and "recipient" not in doc:
        v.failed("format", _l("%(url)s is not an Open Badges assertion", url=url), "not-assertion")
        return
    declared = doc.get("id")
    if not declared and isinstance(doc.get("verify"), dict):
        declared = doc["verify"].get("url")
    if declared != url:
        v.failed("hosted", _l("the assertion's id is not the URL it was fetched from"), "id-mismatch")
    badge = _node(v, doc.get("badge"), "badge_class", fetcher)
    issuer = _node(v, badge.get("issuer"), "issuer", fetcher) if badge else None
    if issuer is not None:
        allowed = _allowed(issuer)
        if _origin(url) == _origin(issuer.get("id") or issuer.get("url")) or any(url.startswith(a) for a in allowed):
            if declared == url:
                v.passed("hosted", _l("hosted by the issuer at %(url)s", url=url))
        else:
            v.failed("hosted", _l("the assertion is hosted outside the issuer's site"), "foreign-origin")
    _finish(v, doc, badge, issuer, emails)


def _allowed(issuer: dict) -> list[str]:
    block = issuer.get("verification") if isinstance(issuer.get("verification"), dict) else {}
    out = []
    for key in ("startsWith", "allowedOrigins"):
        value = block.get(key)
        out += [value] if isinstance(value, str) else [x for x in value or [] if isinstance(x, str)]
    return [x if "://" in x else f"https://{x}" for x in out]


def _unverified_payload(token: str) -> dict | None:
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "==="))
    except (ValueError, IndexError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def verify_signed(v: Verdict, token: str, fetcher: Fetcher, emails) -> None:
    """Verify a compact-JWS signed OB 2.0 assertion into ``v``."""
    v.kind = "ob2-signed"
    payload = _unverified_payload(token)
    creator = ((payload or {}).get("verification") or {}).get("creator") if payload else None
    if not isinstance(creator, str):
        v.failed("signature", _l("not a signed Open Badges 2.0 assertion (no verification.creator)"), "no-creator")
        return
    try:
        key = fetcher.get(creator).json()
        pem = key["publicKeyPem"]
    except FetchError as exc:
        v.failed("key", exc.reason, exc.code)
        return
    except (KeyError, TypeError):
        v.failed("key", _l("%(url)s is not a CryptographicKey with publicKeyPem", url=creator), "not-a-key")
        return
    try:
        doc = verify_jws(token, pem)
    except HubError:
        v.failed("signature", _l("the signature does not verify with the issuer's key"), "bad-signature")
        return
    v.passed("signature", _l("signed (RS256) with the key at %(url)s", url=creator))
    badge = _node(v, doc.get("badge"), "badge_class", fetcher)
    issuer = _node(v, badge.get("issuer"), "issuer", fetcher) if badge else None
    if issuer is not None:
        if key.get("owner") != issuer.get("id"):
            v.failed("key", _l("the signing key is not owned by the badge's issuer"), "key-owner")
        else:
            v.passed("key", _l("the key belongs to the issuer %(id)s", id=issuer.get("id")))
        _check_revocation_list(v, doc, issuer, fetcher)
    _finish(v, doc, badge, issuer, emails)


def _check_revocation_list(v: Verdict, doc: dict, issuer: dict, fetcher: Fetcher) -> None:
    url = issuer.get("revocationList")
    if not isinstance(url, str):
        v.skipped("revocation", _l("the issuer publishes no revocation list"), "no-list")
        return
    try:
        listed = fetcher.get(url).json().get("revokedAssertions") or []
    except (FetchError, AttributeError) as exc:
        reason = exc.reason if isinstance(exc, FetchError) else _l("the revocation list cannot be read")
        v.failed("revocation", reason, getattr(exc, "code", "bad-list"))
        return
    for item in listed:
        ident = item if isinstance(item, str) else item.get("id") if isinstance(item, dict) else None
        uid = item.get("uid") if isinstance(item, dict) else None
        if ident == doc.get("id") or (uid and uid == doc.get("uid")):
            reason = item.get("revocationReason") if isinstance(item, dict) else None
            v.failed("revocation", _l("revoked: %(reason)s", reason=reason or "—"), "revoked")
            return
    v.passed("revocation", _l("not in the issuer's revocation list"))


def verify_json(v: Verdict, doc: dict, fetcher: Fetcher, emails) -> None:
    """An OB 2.0 assertion given as JSON: hosted ones are verified at their id (the JSON given is only a
    pointer); a signed one needs its JWS."""
    kind = _verification_type(doc)
    url = doc.get("id")
    if kind == "signed":
        v.kind = "ob2-signed"
        v.failed("signature", _l("a signed assertion was given without its signature (give the JWS)"), "no-jws")
        return
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        v.failed("hosted", _l("the assertion has no URL to verify it at"), "no-id")
        return
    verify_hosted(v, url, fetcher, emails)
