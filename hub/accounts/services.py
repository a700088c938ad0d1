"""Accounts: users and roles, password checks and resets, TOTP second factor, API tokens.

Passwords are hashed with Werkzeug's scrypt (``werkzeug.security.generate_password_hash``). TOTP follows
RFC 6238 (30-second steps, 6 digits, SHA-1, via ``pyotp``), with a step never accepted twice. Reset links
are signed with the app secret (``itsdangerous``), expire after an hour and stop working once the
password changes. Services flush, the caller commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

import pyotp
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from hub.accounts.access import SCOPES
from hub.accounts.models import ROLES, ApiToken, Membership, User
from hub.badges.recipient import normalise_email
from hub.context import HubContext
from hub.db import utcnow
from hub.errors import NotFound, ValidationError
from hub.i18n import joined, number
from hub.i18n import lazy as _l

MIN_PASSWORD = 10
RESET_MAX_AGE = 3600  # seconds a reset link stays valid
TOKEN_PREFIX = "bh_"
# Compared against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password, only a timing equaliser")


def _check_password_rules(password: str) -> None:
    if len(password or "") < MIN_PASSWORD:
        raise ValidationError(
            _l("the password must have at least %(n)s characters", n=number(MIN_PASSWORD)), field="password"
        )


def _check_locale(locale: str | None) -> None:
    if locale not in (None, "pl", "en"):
        raise ValidationError(_l("the language must be pl or en"), field="locale")


def set_locale(session: Session, user: User, locale: str | None) -> User:
    """Set the user's language: ``pl``, ``en``, or None (the browser's ``Accept-Language``). Console
    pages, API error messages and e-mails to the user follow it.

    Raises:
        ValidationError: another value.
    """
    _check_locale(locale)
    user.locale = locale
    session.flush()
    return user


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    name: str | None = None,
    site_admin: bool = False,
    locale: str | None = None,
) -> User:
    """Create a user.

    Raises:
        ValidationError: malformed or taken e-mail, short password, unknown locale.
    """
    email = normalise_email(email)
    if session.scalar(select(User.id).where(User.email == email)):
        raise ValidationError(_l("a user with this e-mail exists"), field="email")
    _check_password_rules(password)
    _check_locale(locale)
    user = User(
        email=email,
        name=(name or "").strip() or None,
        password_hash=generate_password_hash(password),
        is_site_admin=site_admin,
        locale=locale,
    )
    session.add(user)
    session.flush()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Replace the password (ends other sessions and pending reset links). Raises ValidationError."""
    _check_password_rules(password)
    user.password_hash = generate_password_hash(password)
    session.flush()


def user_by_email(session: Session, email: str | None) -> User | None:
    """The user whose address is ``email`` in any of its written forms (NFC or not, Unicode or ``xn--``
    domain, any case: :func:`hub.badges.recipient.normalise_email`); None when there is none or
    ``email`` is not an address."""
    try:
        email = normalise_email(email)
    except ValidationError:
        return None
    return session.scalar(select(User).where(User.email == email))


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None (same work either way)."""
    user = user_by_email(session, email)
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password or "")
    if not (ok and user and user.active):
        return None
    return user


def session_stamp(user: User) -> str:
    """A short digest of the password hash, kept in the session cookie: a password change logs out
    every other session of the user."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def set_role(session: Session, user: User, issuer_id: int, role: str | None) -> Membership | None:
    """Give ``user`` ``role`` at the issuer, or remove it (``role`` None).

    Raises:
        ValidationError: unknown role.
    """
    if role is not None and role not in ROLES:
        raise ValidationError(_l("the role must be one of %(choices)s", choices=joined(ROLES)), field="role")
    row = session.scalar(select(Membership).where(Membership.user_id == user.id, Membership.issuer_id == issuer_id))
    if role is None:
        if row is not None:
            session.delete(row)
            session.flush()
        return None
    if row is None:
        row = Membership(user=user, issuer_id=issuer_id, role=role)
        session.add(row)
    row.role = role
    session.flush()
    session.refresh(user)
    return row


# ---- password reset -----------------------------------------------------------------------------


def _reset_serializer(ctx: HubContext) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ctx.settings.secret_key, salt="badgehub.password-reset")


def make_reset_token(ctx: HubContext, user: User) -> str:
    """A signed, expiring reset token for ``user`` (valid :data:`RESET_MAX_AGE` s, until the password changes)."""
    return _reset_serializer(ctx).dumps({"u": user.public_id, "s": session_stamp(user)})


def user_from_reset_token(session: Session, ctx: HubContext, token: str) -> User:
    """The user a reset token was made for.

    Raises:
        ValidationError: bad, expired or already used token.
    """
    try:
        data = _reset_serializer(ctx).loads(token, max_age=RESET_MAX_AGE)
    except SignatureExpired:
        raise ValidationError(_l("the reset link has expired; ask for a new one"), field="token") from None
    except BadSignature:
        raise ValidationError(_l("the reset link is not valid"), field="token") from None
    user = session.scalar(select(User).where(User.public_id == data.get("u")))
    if user is None or not user.active or not hmac.compare_digest(session_stamp(user), str(data.get("s"))):
        raise ValidationError(_l("the reset link was already used or is not valid"), field="token")
    return user


# ---- TOTP -----------------------------------------------------------------------------------------


def begin_totp(session: Session, ctx: HubContext, user: User) -> str:
    """Make a new TOTP secret for ``user`` (not yet enforced); returns its otpauth:// URI for a QR/app."""
    secret = pyotp.random_base32()
    user.totp_secret_encrypted = ctx.box.encrypt(secret.encode())
    user.totp_enabled = False
    session.flush()
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name="Badge Hub")


def totp_secret(ctx: HubContext, user: User) -> str | None:
    """The user's base32 TOTP secret (decrypted), or None."""
    if not user.totp_secret_encrypted:
        return None
    return ctx.box.decrypt(user.totp_secret_encrypted).decode()


def verify_totp(session: Session, ctx: HubContext, user: User, code: str, *, at: float | None = None) -> bool:
    """Check a 6-digit code (±1 step of clock drift); a step is accepted once (RFC 6238 §5.2)."""
    secret = totp_secret(ctx, user)
    code = (code or "").replace(" ", "")
    if not secret or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    step = int(now // totp.interval)
    for candidate in (step, step - 1, step + 1):
        if candidate <= (user.totp_last_step or -1):
            continue
        if hmac.compare_digest(totp.at(candidate * totp.interval), code):
            user.totp_last_step = candidate
            session.flush()
            return True
    return False


def confirm_totp(session: Session, ctx: HubContext, user: User, code: str) -> None:
    """Turn TOTP on after the user proved a code. Raises ValidationError for a wrong code."""
    if not verify_totp(session, ctx, user, code):
        raise ValidationError(_l("the code is not correct"), field="code")
    user.totp_enabled = True
    session.flush()


def disable_totp(session: Session, user: User) -> None:
    user.totp_enabled = False
    user.totp_secret_encrypted = None
    user.totp_last_step = None
    session.flush()


# ---- API tokens -----------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, user: User, *, name: str, scope: str = "read") -> tuple[ApiToken, str]:
    """Create a token for ``user``. Returns the row and the token (shown once; only its hash is kept).

    Raises:
        ValidationError: empty name or unknown scope.
    """
    name = (name or "").strip()
    if not name or len(name) > 255:
        raise ValidationError(_l("the token needs a name (at most 255 characters)"), field="name")
    if scope not in SCOPES:
        raise ValidationError(_l("the scope must be one of %(choices)s", choices=joined(SCOPES)), field="scope")
    prefix = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiToken(user=user, name=name, prefix=prefix, token_hash=_digest(token), scope=scope)
    session.add(row)
    session.flush()
    return row, token


def resolve_api_token(session: Session, token: str) -> ApiToken | None:
    """The live token row for a presented token (not revoked, user active), else None.
    Records ``last_used_at``."""
    parts = (token or "").split("_", 2)
    if len(parts) != 3 or f"{parts[0]}_" != TOKEN_PREFIX:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.prefix == parts[1]))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    if not hmac.compare_digest(row.token_hash, _digest(token)):
        return None
    row.last_used_at = utcnow()
    return row


def revoke_api_token(session: Session, row: ApiToken) -> None:
    row.revoked_at = row.revoked_at or utcnow()
    session.flush()


def get_user(session: Session, public_id: str) -> User:
    """Raises NotFound."""
    user = session.scalar(select(User).where(User.public_id == public_id))
    if user is None:
        raise NotFound(_l("no such user"))
    return user


def count_users(session: Session) -> int:
    return session.scalar(select(func.count(User.id))) or 0
