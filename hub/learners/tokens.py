"""Signed, expiring, single-use links (claim and magic-link login).

The URL carries a random ``jti`` signed with itsdangerous (HMAC-SHA1 over the app's secret key, with a
per-purpose salt, https://itsdangerous.palletsprojects.com/en/stable/url_safe/); the ``link_token``
row makes it single-use: redeeming is one conditional ``UPDATE ... WHERE used_at IS NULL``, so two
concurrent clicks cannot both succeed.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.badges.models import Assertion
from hub.context import HubContext
from hub.db import utcnow
from hub.errors import HubError
from hub.i18n import N_
from hub.i18n import lazy as _l
from hub.learners.models import LinkToken

CLAIM = "claim"
LOGIN = "login"


class LinkInvalid(HubError):
    """The link was altered or is not a link of this hub."""

    status = 400
    slug = "invalid-link"
    title = N_("This link is not valid")


class LinkExpired(HubError):
    status = 410
    slug = "expired-link"
    title = N_("This link has expired")


class LinkUsed(HubError):
    status = 410
    slug = "used-link"
    title = N_("This link has already been used")


def _serializer(ctx: HubContext, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(ctx.settings.secret_key, salt=f"hub.learners.{purpose}")


def lifetime(ctx: HubContext, purpose: str) -> timedelta:
    """How long a link of ``purpose`` is valid (``HUB_CLAIM_LINK_DAYS`` / ``HUB_LOGIN_LINK_MINUTES``)."""
    if purpose == CLAIM:
        return timedelta(days=ctx.settings.claim_link_days)
    return timedelta(minutes=ctx.settings.login_link_minutes)


def issue(session: Session, ctx: HubContext, purpose: str, email: str, assertion: Assertion | None = None) -> str:
    """A new link token (URL-safe text) for ``email`` (and, for a claim, ``assertion``)."""
    now = utcnow()
    jti = secrets.token_urlsafe(24)
    session.add(
        LinkToken(
            jti=jti,
            purpose=purpose,
            email=email,
            assertion_id=assertion.id if assertion is not None else None,
            created_at=now,
            expires_at=now + lifetime(ctx, purpose),
        )
    )
    session.flush()
    return _serializer(ctx, purpose).dumps(jti)


def redeem(session: Session, ctx: HubContext, purpose: str, token: str) -> LinkToken:
    """Use a link once. Returns its row (``email``, ``assertion_id``).

    Raises:
        LinkInvalid: tampered, or of another purpose or hub; LinkExpired: past its lifetime;
        LinkUsed: redeemed before.
    """
    serializer = _serializer(ctx, purpose)
    try:
        jti = serializer.loads(token, max_age=int(lifetime(ctx, purpose).total_seconds()))
    except SignatureExpired:
        raise LinkExpired(_l("ask for a new link")) from None
    except BadSignature:
        raise LinkInvalid(_l("the link was altered or cut short")) from None
    row = session.scalar(select(LinkToken).where(LinkToken.jti == jti, LinkToken.purpose == purpose))
    if row is None:
        raise LinkInvalid(_l("the link is unknown"))
    now = utcnow()
    if row.expires_at <= now:
        raise LinkExpired(_l("ask for a new link"))
    claimed = session.execute(
        update(LinkToken).where(LinkToken.id == row.id, LinkToken.used_at.is_(None)).values(used_at=now)
    )
    if claimed.rowcount != 1:
        raise LinkUsed(_l("each link works once; ask for a new one"))
    session.refresh(row)
    return row
