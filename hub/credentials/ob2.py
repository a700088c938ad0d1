"""Open Badges 2.0 JSON-LD documents built from the hub's rows.

Spec: https://www.imsglobal.org/spec/ob/v2p0/ (Issuer/Profile, BadgeClass, Assertion, CryptographicKey,
RevocationList, HostedBadge and SignedBadge verification). Every URL comes from :class:`hub.urls.Urls`.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import object_session

from hub.badges.models import Assertion, BadgeClass, Issuer, IssuerKey
from hub.credentials.baking import OB2_SVG_NS, bake_png, bake_svg
from hub.errors import NotFound
from hub.frameworks.services import badge_alignments
from hub.i18n import lazy as _l
from hub.timefmt import isoformat_z
from hub.urls import Urls

CONTEXT = "https://w3id.org/openbadges/v2"


def _drop_empty(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if v not in (None, "", [], {})}


def issuer_json(urls: Urls, issuer: Issuer) -> dict:
    """The Issuer Profile, with its current public key and its revocation list."""
    iid = issuer.public_id
    return _drop_empty(
        {
            "@context": CONTEXT,
            "type": "Issuer",
            "id": urls.issuer(iid),
            "name": issuer.name,
            "url": issuer.url,
            "email": issuer.email,
            "description": issuer.description,
            "image": urls.issuer_image(iid) if issuer.image else None,
            # Only the current key: openbadges-validator-core requires publicKey to equal the JWS's
            # creator and refuses a list. Retired keys stay served at their URLs (owner = issuer), so
            # assertions they signed still verify by key document + owner.
            "publicKey": _current_key_url(urls, issuer),
            "revocationList": urls.revocation_list(iid),
        }
    )


def _current_key_url(urls: Urls, issuer: Issuer) -> str | None:
    current = [k for k in issuer.keys if k.algorithm == "RS256" and k.retired_at is None]
    return urls.key(issuer.public_id, current[-1].public_id) if current else None


def key_json(urls: Urls, key: IssuerKey) -> dict:
    """A CryptographicKey document (``owner`` is the issuer, as SignedBadge verification requires)."""
    iid = key.issuer.public_id
    return {
        "@context": CONTEXT,
        "type": "CryptographicKey",
        "id": urls.key(iid, key.public_id),
        "owner": urls.issuer(iid),
        "publicKeyPem": key.public_pem,
    }


def revocation_list_json(urls: Urls, issuer: Issuer, revoked: list[Assertion]) -> dict:
    """The issuer's RevocationList: signed assertions are listed by their ``urn:uuid`` id."""
    return {
        "@context": CONTEXT,
        "type": "RevocationList",
        "id": urls.revocation_list(issuer.public_id),
        "issuer": urls.issuer(issuer.public_id),
        "revokedAssertions": [
            _drop_empty({"id": signed_id(a), "revocationReason": a.revocation_reason}) for a in revoked
        ],
    }


#: OB 2.0 AlignmentObject fields (https://www.imsglobal.org/spec/ob/v2p0/#Alignment); OB 3.0's targetType is not one.
OB2_ALIGNMENT_FIELDS = ("targetName", "targetUrl", "targetDescription", "targetFramework", "targetCode")


def badge_class_json(urls: Urls, badge: BadgeClass) -> dict:
    """The BadgeClass. Its criteria URL is the badge class's own (or the hub's criteria page).

    ``alignment``: the static alignments, the EQF/PRK levels of a micro-credential and the learning
    outcomes' descriptors (:func:`hub.frameworks.services.badge_alignments`).
    """
    session = object_session(badge)
    alignments = badge_alignments(session, badge) if session is not None else list(badge.alignments or [])
    bid = badge.public_id
    criteria = _drop_empty({"id": badge.criteria_url or urls.criteria(bid), "narrative": badge.criteria_narrative})
    return _drop_empty(
        {
            "@context": CONTEXT,
            "type": "BadgeClass",
            "id": urls.badge_class(bid),
            "name": badge.name,
            "description": badge.description,
            "image": urls.badge_image(bid),
            "criteria": criteria,
            "issuer": urls.issuer(badge.issuer.public_id),
            "tags": list(badge.tags or []),
            "alignment": [_drop_empty({k: a.get(k) for k in OB2_ALIGNMENT_FIELDS}) for a in alignments],
        }
    )


def signed_id(assertion: Assertion) -> str:
    """The ``id`` of the signed form of an assertion (``urn:uuid:``; hosted form uses its URL)."""
    return f"urn:uuid:{assertion.public_id}"


def assertion_json(urls: Urls, assertion: Assertion, *, signed_by: IssuerKey | None = None) -> dict:
    """The Assertion: hosted (``id`` = its URL, HostedBadge) or, with ``signed_by``, the SignedBadge
    payload (``id`` = ``urn:uuid:…``, ``verification.creator`` = the key's URL).

    Both forms carry the same hashed recipient (salt stored on the row).
    """
    if signed_by is None:
        ident, verification = urls.assertion(assertion.public_id), {"type": "HostedBadge"}
    else:
        creator = urls.key(signed_by.issuer.public_id, signed_by.public_id)
        ident, verification = signed_id(assertion), {"type": "SignedBadge", "creator": creator}
    return _drop_empty(
        {
            "@context": CONTEXT,
            "type": "Assertion",
            "id": ident,
            "recipient": {
                "type": assertion.recipient_type,
                "hashed": True,
                "salt": assertion.recipient_salt,
                "identity": assertion.recipient_identity,
            },
            "badge": urls.badge_class(assertion.badge_class.public_id),
            "issuedOn": isoformat_z(assertion.issued_on),
            "expires": isoformat_z(assertion.expires) if assertion.expires else None,
            "verification": verification,
            "evidence": [_drop_empty(dict(e)) for e in (assertion.evidence or [])],
            "narrative": assertion.narrative,
        }
    )


def revoked_json(urls: Urls, assertion: Assertion) -> dict:
    """The body of a revoked hosted assertion (served with HTTP 410)."""
    return _drop_empty(
        {
            "@context": CONTEXT,
            "type": "Assertion",
            "id": urls.assertion(assertion.public_id),
            "revoked": True,
            "revocationReason": assertion.revocation_reason,
        }
    )


def baked_assertion(urls: Urls, assertion: Assertion, ext: str, *, signed: bool) -> bytes:
    """The badge class image with ``assertion`` baked in (https://www.imsglobal.org/spec/ob/v2p0/baking/).

    Args:
        ext: ``png`` (needs a PNG badge image) or ``svg`` (needs an SVG one).
        signed: bake the compact JWS instead of the hosted assertion JSON.

    Raises:
        NotFound: the badge image is of the other format, or the assertion is revoked (a revoked
            badge is not handed out baked).
    """
    if assertion.revoked:
        raise NotFound(_l("this badge is revoked"))
    image, kind = assertion.badge_class.image, assertion.badge_class.image_type
    hosted = json.dumps(assertion_json(urls, assertion), ensure_ascii=False)
    if ext == "png" and kind == "image/png":
        return bake_png(image, "openbadges", assertion.signature if signed else hosted)
    if ext == "svg" and kind == "image/svg+xml":
        if signed:
            return bake_svg(image, tag="assertion", ns=OB2_SVG_NS, verify=assertion.signature)
        url = urls.assertion(assertion.public_id)
        return bake_svg(image, tag="assertion", ns=OB2_SVG_NS, verify=url, json_text=hosted)
    raise NotFound(_l("this badge's image is %(type)s; no baked .%(ext)s is available", type=kind, ext=ext))
