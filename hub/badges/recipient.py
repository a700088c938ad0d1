"""Recipient identity hashing (OB 2.0 IdentityObject, https://www.imsglobal.org/spec/ob/v2p0/#IdentityObject)."""

from __future__ import annotations

import hashlib
import secrets

from hub.errors import ValidationError
from hub.i18n import lazy as _l


def normalise_email(email: str | None) -> str:
    """Trim and lower-case an e-mail address.

    Raises:
        ValidationError: empty, or not shaped like ``local@domain``.
    """
    value = (email or "").strip().lower()
    local, _, domain = value.partition("@")
    if not local or not domain or " " in value or "." not in domain:
        raise ValidationError(_l('not an e-mail address: "%(email)s"', email=email or ""), field="recipient.email")
    return value


def new_salt() -> str:
    """A fresh salt: 32 lower-case hex characters (128 bits)."""
    return secrets.token_hex(16)


def hash_identity(identity: str, salt: str) -> str:
    """``sha256$`` + lower-case hex of sha256(identity + salt), as OB 2.0 hashed identities are written."""
    return "sha256$" + hashlib.sha256((identity + salt).encode("utf-8")).hexdigest()
