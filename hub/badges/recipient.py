"""Recipient identity hashing (OB 2.0 IdentityObject, https://www.imsglobal.org/spec/ob/v2p0/#IdentityObject)."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata

from hub.errors import ValidationError
from hub.i18n import lazy as _l

#: An unquoted local part (RFC 5322 dot-atom; RFC 6531 allows other scripts): no spaces, no ``"(),:;<>@[\\]``,
#: no leading, trailing or double dot.
_LOCAL = re.compile(r'[^\s"(),:;<>@\[\\\].]+(?:\.[^\s"(),:;<>@\[\\\].]+)*')
#: A domain label: letters (any script, for internationalised domains), digits and inner hyphens.
_LABEL = re.compile(r"[^\W_](?:(?:[^\W_]|-)*[^\W_])?")


def _shown(value: str) -> str:
    """``value`` as a message may quote it: control and other invisible characters escaped (``\\u0000``),
    at most 100 characters."""
    text = "".join(
        c if c == " " or unicodedata.category(c)[0] not in "CZ" else c.encode("unicode_escape").decode("ascii")
        for c in value[:100]
    )
    return text + ("…" if len(value) > 100 else "")


def normalise_email(email: str | None) -> str:
    """Trim and lower-case an e-mail address.

    The one check of a recipient's address, wherever it comes from (an event's mapping, the console,
    a bulk upload, the API): ``local@domain``, the local part a dot-atom (RFC 5322, any script), the
    domain two or more labels of letters, digits and inner hyphens, at most 64 + 254 characters (RFC
    5321), no spaces, control or other invisible characters.

    Raises:
        ValidationError: empty, or not such an address (the message quotes it with invisible
            characters escaped).
    """
    if email is not None and not isinstance(email, str):
        email = str(email)
    value = (email or "").strip().lower()
    local, _, domain = value.partition("@")
    if (
        len(local) > 64
        or len(value) > 254
        or not _LOCAL.fullmatch(local)
        or not all(_LABEL.fullmatch(label) for label in domain.split("."))
        or "." not in domain
        or any(unicodedata.category(c)[0] in "CZ" for c in value)
    ):
        raise ValidationError(
            _l('not an e-mail address: "%(email)s"', email=_shown(email or "")), field="recipient.email"
        )
    return value


def new_salt() -> str:
    """A fresh salt: 32 lower-case hex characters (128 bits)."""
    return secrets.token_hex(16)


def hash_identity(identity: str, salt: str) -> str:
    """``sha256$`` + lower-case hex of sha256(identity + salt), as OB 2.0 hashed identities are written."""
    return "sha256$" + hashlib.sha256((identity + salt).encode("utf-8")).hexdigest()
