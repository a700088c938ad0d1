"""Recipient identity hashing (OB 2.0 IdentityObject, https://www.imsglobal.org/spec/ob/v2p0/#IdentityObject)."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata

import idna

from hub.errors import ValidationError
from hub.i18n import lazy as _l

#: An unquoted local part (RFC 5322 dot-atom; RFC 6531 allows other scripts): no spaces, no ``"(),:;<>@[\\]``,
#: no leading, trailing or double dot.
_LOCAL = re.compile(r'[^\s"(),:;<>@\[\\\].]+(?:\.[^\s"(),:;<>@\[\\\].]+)*')


def _shown(value: str) -> str:
    """``value`` as a message may quote it: control and other invisible characters escaped (``\\u0000``),
    at most 100 characters."""
    text = "".join(
        c if c == " " or unicodedata.category(c)[0] not in "CZ" else c.encode("unicode_escape").decode("ascii")
        for c in value[:100]
    )
    return text + ("…" if len(value) > 100 else "")


#: An ASCII host name label as UTS #46 with STD3 rules leaves it (lower-cased): letters, digits, inner
#: hyphens, 1-63 characters, not an ACE (``xn--``) label.
_LDH_LABEL = re.compile(r"(?!xn--)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def _domain(domain: str) -> str:
    """``domain`` in its one stored form: UTS #46 (non-transitional) mapped and checked as IDNA 2008, then
    written as Unicode (U-labels), so ``BÜCHER.de``, ``bücher.de`` and ``xn--bcher-kva.de`` are all
    ``bücher.de``. Raises ``idna.IDNAError`` (a ``UnicodeError``) for a domain IDNA refuses.

    An all-ASCII domain of plain labels (no ``xn--``) maps to itself lower-cased, so it skips the
    ``idna`` package (a tenth of the time; a bulk upload normalises thousands)."""
    if domain.isascii():
        lowered = domain.lower()
        if len(lowered) <= 253 and all(_LDH_LABEL.fullmatch(label) for label in lowered.split(".")):
            return lowered
    return idna.decode(idna.encode(domain, uts46=True, std3_rules=True))


def normalise_email(email: str | None) -> str:
    """The one form of an e-mail identity the hub stores, hashes, looks up and compares.

    Every path an address arrives by (an event's mapping, the console, a bulk upload, the API, an LTI
    launch, the learner's sign-in form, the claim link) goes through here before hashing
    (:func:`hash_identity`), look-up, the once-only key and sign-in:

    1. trimmed (leading and trailing white space);
    2. Unicode NFC (https://unicode.org/reports/tr15/), so ``zoë`` typed as one code point or as ``e`` +
       U+0308 is one address;
    3. the domain mapped by UTS #46 (https://unicode.org/reports/tr46/, IDNA 2008, non-transitional:
       ``ß`` stays ``ß``) and written with Unicode labels, so ``xn--bcher-kva.de`` and ``bücher.de`` are
       one domain; a domain IDNA refuses (``a_b.com``, an emoji) is refused;
    4. lower-cased, the local part too (Unicode default lower case, ``str.lower``, not case folding:
       ``ß`` is not ``ss``). RFC 5321 lets a server tell ``Ola@`` from ``ola@``, but no mail service
       does, and Open Badges verifiers lower-case what the learner types before hashing.

    The address must be ``local@domain``: the local part a dot-atom (RFC 5322, any script, RFC 6531),
    the domain two or more labels, at most 64 + 254 characters (RFC 5321), no spaces, control or other
    invisible characters (checked before the UTS #46 mapping, which would silently drop a zero-width
    space).

    Returns:
        e.g. ``"zoë@bücher.de"`` for ``" Zoe\u0308@XN--BCHER-KVA.DE "``.

    Raises:
        ValidationError: empty, or not such an address (``field`` ``recipient.email``; the message
            quotes it with invisible characters escaped).
    """
    if email is not None and not isinstance(email, str):
        email = str(email)
    value = unicodedata.normalize("NFC", (email or "").strip())
    local, _, domain = value.rpartition("@")
    refused = ValidationError(
        _l('not an e-mail address: "%(email)s"', email=_shown(email or "")), field="recipient.email"
    )
    if any(unicodedata.category(c)[0] in "CZ" for c in value) or not local:
        raise refused
    try:
        domain = _domain(domain)
    except UnicodeError:
        raise refused from None
    value = unicodedata.normalize("NFC", local.lower()) + "@" + domain
    local = value.rpartition("@")[0]
    if (
        len(local) > 64
        or len(value) > 254
        or not _LOCAL.fullmatch(local)
        or "." not in domain  # the labels themselves IDNA 2008 checked
    ):
        raise refused
    return value


def legacy_form(email: str) -> str:
    """The form the hub hashed before :func:`normalise_email` applied NFC and IDNA (trimmed and
    lower-cased only): awards issued then keep their hash, so a check of a typed address
    (:func:`identity_forms`) tries this form as well."""
    return email.strip().lower()


def identity_forms(email: str) -> list[str]:
    """The forms of a typed address an issued hash may be of: :func:`normalise_email` first, then the
    :func:`legacy_form` when it differs (awards issued before NFC/IDNA normalisation).

    Raises:
        ValidationError: not an e-mail address.
    """
    forms = [normalise_email(email)]
    if legacy_form(email) not in forms:
        forms.append(legacy_form(email))
    return forms


def new_salt() -> str:
    """A fresh salt: 32 lower-case hex characters (128 bits)."""
    return secrets.token_hex(16)


def hash_identity(identity: str, salt: str) -> str:
    """``sha256$`` + lower-case hex of sha256(identity + salt), as OB 2.0 hashed identities are written."""
    return "sha256$" + hashlib.sha256((identity + salt).encode("utf-8")).hexdigest()
