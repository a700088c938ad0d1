"""Sharing an award: its live status, the LinkedIn "Add to profile" link and the embed snippet."""

from __future__ import annotations

from urllib.parse import urlencode

from markupsafe import Markup, escape

from hub.badges.models import Assertion
from hub.certificates.content import certificate_number
from hub.db import utcnow

VALID, EXPIRED, REVOKED = "valid", "expired", "revoked"


def live_status(assertion: Assertion) -> str:
    """``revoked`` (wins), ``expired`` (``expires`` in the past) or ``valid``, as of now."""
    if assertion.revoked:
        return REVOKED
    if assertion.expires is not None and assertion.expires < utcnow():
        return EXPIRED
    return VALID


def linkedin_add_url(assertion: Assertion, page_url: str) -> str:
    """LinkedIn's "Add to profile" link for a certification, pre-filled: ``name``, ``organizationName``,
    ``issueYear``/``issueMonth``, ``expirationYear``/``expirationMonth`` when it expires, ``certUrl``
    and ``certId`` (https://addtoprofile.linkedin.com/, ``startTask=CERTIFICATION_NAME``)."""
    badge = assertion.badge_class
    params = {
        "startTask": "CERTIFICATION_NAME",
        "name": badge.name,
        "organizationName": badge.issuer.name,
        "issueYear": assertion.issued_on.year,
        "issueMonth": assertion.issued_on.month,
    }
    if assertion.expires is not None:
        params["expirationYear"] = assertion.expires.year
        params["expirationMonth"] = assertion.expires.month
    params["certUrl"] = page_url
    params["certId"] = certificate_number(assertion.public_id)
    return "https://www.linkedin.com/profile/add?" + urlencode(params)


def embed_snippet(assertion: Assertion, page_url: str, image_url: str) -> str:
    """A self-contained HTML snippet showing the badge and linking to its page (no script)."""
    badge = assertion.badge_class
    return str(
        Markup(
            '<a href="{url}" target="_blank" rel="noopener" style="display:inline-flex;align-items:center;gap:8px;'
            'font:14px/1.3 sans-serif;color:#14365d;text-decoration:none">'
            '<img src="{img}" alt="" width="64" height="64"><span><strong>{name}</strong><br>{issuer}</span></a>'
        ).format(url=page_url, img=image_url, name=escape(badge.name), issuer=escape(badge.issuer.name))
    )
