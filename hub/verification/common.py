"""Checks shared by OB 2.0 and OB 3.0: recipient identity, validity window, image."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import UTC, datetime

from hub.badges.recipient import identity_forms
from hub.errors import ValidationError
from hub.i18n import lazy as _l
from hub.timefmt import parse_timestamp
from hub.verification.report import Verdict

HASHES = {"sha256": hashlib.sha256, "md5": hashlib.md5}


def _forms(email: str) -> set[str]:
    """``email`` and the forms a hash of it may be of (:func:`hub.badges.recipient.identity_forms`: the
    normalised form, and the form of awards issued before NFC/IDNA normalisation)."""
    try:
        return {email, *identity_forms(email)}
    except ValidationError:  # not an address the hub can normalise: compare it as given
        return {email}


def identity_matches(identity: str, *, hashed: bool, salt: str | None, emails: list[str]) -> str | None:
    """The address of ``emails`` that ``identity`` names, or None.

    Accepts what real badges carry: ``sha256$<hex>`` and ``md5$<hex>`` in either case, with or without a
    salt, and a plain e-mail address (compared case-insensitively). OB 2.0 IdentityObject:
    https://www.imsglobal.org/spec/ob/v2p0/#IdentityObject; OB 3.0 IdentityObject ``identityHash``.
    """
    value = (identity or "").strip()
    if not hashed and "$" not in value:
        wanted = value.lower().removeprefix("mailto:")
        return next((e for e in emails if wanted == e or wanted in _forms(e)), None)
    algorithm, _, digest = value.partition("$")
    fn = HASHES.get(algorithm.lower())
    if fn is None or not digest:
        return None
    digest = digest.lower()
    for email in emails:
        for candidate in _forms(email):
            if fn((candidate + (salt or "")).encode("utf-8")).hexdigest() == digest:
                return email
    return None


def check_recipient(v: Verdict, identities: list[dict], emails: list[str] | None) -> None:
    """``recipient`` check over ``[{"identity", "hashed", "salt", "type"}]`` (normalised by the caller)."""
    if not emails:
        v.skipped("recipient", _l("no e-mail address to compare the recipient with"), "no-address")
        return
    if not identities:
        v.failed("recipient", _l("the badge names no recipient"), "no-recipient")
        return
    for ident in identities:
        if ident.get("type") not in (None, "email", "emailAddress"):
            continue
        found = identity_matches(
            str(ident.get("identity") or ""), hashed=bool(ident.get("hashed")), salt=ident.get("salt"), emails=emails
        )
        if found:
            v.passed("recipient", _l("issued to %(email)s", email=found))
            return
    v.failed("recipient", _l("the badge was issued to someone else (no verified address matches)"), "wrong-recipient")


def timestamp(value) -> datetime | None:
    """A timestamp of a badge (ISO 8601, a date, or Unix seconds), or None when absent/unreadable."""
    if value in (None, ""):
        return None
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError, OverflowError):
        try:
            return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
        except ValueError:
            return None


def check_window(v: Verdict, start, end, *, now: datetime | None = None) -> None:
    """``expiry`` check: not before ``start`` (validFrom / nbf), not after ``end`` (validUntil / expires)."""
    now = now or datetime.now(UTC)
    begins, ends = timestamp(start), timestamp(end)
    if start not in (None, "") and begins is None or end not in (None, "") and ends is None:
        v.failed("expiry", _l("a date in the badge cannot be read"), "bad-date")
    elif begins and begins > now:
        v.failed("expiry", _l("not valid before %(date)s", date=begins.strftime("%Y-%m-%d %H:%M UTC")), "not-yet-valid")
    elif ends and ends < now:
        v.failed("expiry", _l("expired on %(date)s", date=ends.strftime("%Y-%m-%d %H:%M UTC")), "expired")
    elif ends:
        v.passed("expiry", _l("valid until %(date)s", date=ends.strftime("%Y-%m-%d %H:%M UTC")))
    else:
        v.passed("expiry", _l("does not expire"))


def check_image(v: Verdict, image) -> None:
    """``image`` check: a ``data:`` URI is decoded (never fetched); a URL is not fetched."""
    if isinstance(image, dict):
        image = image.get("id")
    if not image or not isinstance(image, str):
        v.skipped("image", _l("the badge has no image"), "no-image")
        return
    if not image.startswith("data:"):
        v.skipped("image", _l("the image is at a URL and was not fetched"), "image-url")
        return
    head, _, data = image.partition(",")
    if not head.startswith(("data:image/png", "data:image/svg+xml", "data:image/jpeg", "data:image/gif")):
        v.failed("image", _l("the embedded image is not PNG, SVG, JPEG or GIF"), "image-type")
        return
    try:
        raw = base64.b64decode(data, validate=True) if head.endswith(";base64") else data.encode()
    except (binascii.Error, ValueError):
        v.failed("image", _l("the embedded image is not valid base64"), "image-base64")
        return
    v.passed("image", _l("embedded image (data: URI, %(size)s bytes), not fetched", size=len(raw)))
