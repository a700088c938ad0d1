"""Badge domain services: issuers and their keys, badge classes, awarding and revoking.

Services take a session and a :class:`hub.context.HubContext`, ``flush`` but never ``commit``; the
caller's boundary commits. Open Badges 2.0 terms throughout (https://www.imsglobal.org/spec/ob/v2p0/).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.types import PlatformUser
from hub.accounts.access import OBJECT_NAMES
from hub.badges.images import check_image
from hub.badges.models import Assertion, BadgeClass, Issuer, IssuerKey
from hub.badges.recipient import hash_identity, new_salt, normalise_email
from hub.certificates import keys as certificate_keys
from hub.context import HubContext
from hub.credentials import ob2, ob3, ob3keys
from hub.credentials.ob3 import clean_text
from hub.credentials.signing import generate_rsa_key, sign_jws
from hub.credentials.status import allocate_status
from hub.db import folded_contains, new_public_id, utcnow
from hub.errors import NotFound, ValidationError
from hub.frameworks import microcredentials
from hub.frameworks import services as frameworks
from hub.i18n import joined, number
from hub.i18n import lazy as _l

log = logging.getLogger(__name__)


def _clean(value: str | None) -> str | None:
    """Stripped text without control characters (they canonicalise differently across JSON-LD
    implementations, OB 3.0 issue); None when empty."""
    return (clean_text(value) or "").strip() or None


#: Field names as people read them in messages (the problem's ``field`` member keeps the API name).
FIELD_NAMES = {
    "name": _l("name"),
    "url": _l("web site"),
    "description": _l("description"),
    "criteria_url": _l("criteria web page"),
    "reason": _l("reason"),
    "recipient.name": _l("the recipient's name"),
}


def _require_text(value: str | None, field: str, max_len: int = 255) -> str:
    text = _clean(value) or ""
    label = FIELD_NAMES.get(field, field)
    if not text:
        raise ValidationError(_l("%(field)s is required", field=label), field=field)
    if len(text) > max_len:
        raise ValidationError(
            _l("%(field)s is longer than %(limit)s characters", field=label, limit=number(max_len)), field=field
        )
    return text


#: Line breaks: CR, LF, NEL, LINE and PARAGRAPH SEPARATOR (vertical tab and form feed are dropped by
#: :func:`_clean` already). A name is one line: it goes into e-mail subjects and headers, PDF titles and
#: ``<title>``.
LINE_BREAKS = frozenset("\r\n\x85\u2028\u2029")


def require_line(value: str | None, field: str, max_len: int = 255) -> str:
    """:func:`_require_text` for a name (an issuer's, a badge class's, a recipient's): also one line.

    Raises:
        ValidationError: empty, too long, or with a line break (``field`` as given).
    """
    text = _require_text(value, field, max_len)
    if LINE_BREAKS.intersection(text):
        raise ValidationError(
            _l("%(field)s must be one line, without line breaks", field=FIELD_NAMES.get(field, field)), field=field
        )
    return text


def _require_url(value: str | None, field: str) -> str:
    text = _require_text(value, field, 1024)
    if not text.startswith(("https://", "http://")):
        raise ValidationError(_l("%(field)s must be an http(s) URL", field=FIELD_NAMES.get(field, field)), field=field)
    return text


def _positive_days(days: int | None) -> int | None:
    if days is not None and days <= 0:
        raise ValidationError(_l("the number of days until expiry must be positive"), field="expires_after_days")
    return days


def create_issuer(
    session: Session,
    ctx: HubContext,
    *,
    name: str,
    url: str,
    email: str | None = None,
    description: str | None = None,
    image: bytes | None = None,
) -> Issuer:
    """Create an Issuer with a fresh RSA signing key, its OB 3.0 keys (Ed25519, ES256:
    :func:`hub.credentials.ob3keys.ensure_keys`) and its self-issued PDF signing certificate
    (:func:`hub.certificates.keys.self_issue`), private keys stored encrypted, so that no public GET
    ever has to make one (a GET never writes).

    Raises:
        ValidationError: missing name, bad URL or e-mail; ImageError for a bad image.
    """
    issuer = Issuer(
        name=require_line(name, "name"),
        url=_require_url(url, "url"),
        email=normalise_email(email) if email else None,
        description=_clean(description),
    )
    if image:
        issuer.image_type = check_image(
            image, max_bytes=ctx.settings.max_image_bytes, max_pixels=ctx.settings.max_image_pixels
        )
        issuer.image = image
    session.add(issuer)
    rotate_key(session, ctx, issuer)
    ob3keys.ensure_keys(session, ctx, issuer)
    session.flush()
    certificate_keys.self_issue(session, ctx, issuer)
    return issuer


def rotate_key(session: Session, ctx: HubContext, issuer: Issuer) -> IssuerKey:
    """Give ``issuer`` a new RS256 key; the previous one is retired but stays published, so the
    assertions it signed keep verifying."""
    now = utcnow()
    for key in issuer.keys:
        if key.algorithm == "RS256" and key.retired_at is None:
            key.retired_at = now
    public_pem, private_enc = generate_rsa_key(ctx.box)
    key = IssuerKey(issuer=issuer, algorithm="RS256", public_pem=public_pem, private_key_encrypted=private_enc)
    session.add(key)
    session.flush()
    return key


def active_key(issuer: Issuer, algorithm: str = "RS256") -> IssuerKey:
    """The issuer's current (not retired) key for ``algorithm``.

    Raises:
        NotFound: the issuer has none (it was never given one).
    """
    for key in reversed(issuer.keys):
        if key.algorithm == algorithm and key.retired_at is None:
            return key
    raise NotFound(f"issuer {issuer.public_id} has no active {algorithm} key")


def create_badge_class(
    session: Session,
    ctx: HubContext,
    issuer: Issuer,
    *,
    name: str,
    description: str,
    image: bytes,
    criteria_url: str | None = None,
    criteria_narrative: str | None = None,
    tags: Iterable[str] = (),
    alignments: Iterable[dict] = (),
    expires_after_days: int | None = None,
    allow_multiple: bool = False,
) -> BadgeClass:
    """Create a BadgeClass. ``image`` is PNG or SVG bytes, checked by :func:`check_image`.

    Raises:
        ValidationError / ImageError: missing fields, bad URL, bad image, non-positive expiry.
    """
    _positive_days(expires_after_days)
    image_type = check_image(image, max_bytes=ctx.settings.max_image_bytes, max_pixels=ctx.settings.max_image_pixels)
    badge = BadgeClass(
        issuer=issuer,
        name=require_line(name, "name"),
        description=_require_text(description, "description", 10_000),
        image=image,
        image_type=image_type,
        criteria_url=_require_url(criteria_url, "criteria_url") if criteria_url else None,
        criteria_narrative=_clean(criteria_narrative),
        tags=[t for t in map(_clean, tags) if t],
        alignments=[dict(a) for a in alignments],
        expires_after_days=expires_after_days,
        allow_multiple=allow_multiple,
    )
    session.add(badge)
    session.flush()
    return badge


#: How far ahead of the hub's clock an issue date may be: a sender's clock may run a little fast, as the
#: webhook timestamps' tolerance allows. Anything later is a mistake (``2999-01-01``), never issued.
CLOCK_SKEW = timedelta(minutes=5)


def check_issued_on(issued_on: datetime | None) -> datetime:
    """The issue date of a new award: ``issued_on`` (an aware datetime), or now when None.

    One rule for every way of awarding (events, the console, bulk CSV, the API), also used by the bulk
    upload's preview: a badge is not issued with a date in the future.

    Raises:
        ValidationError: ``issued_on`` is later than now + :data:`CLOCK_SKEW` (field ``issued_on``).
    """
    now = utcnow()
    if issued_on is None:
        return now
    if issued_on > now + CLOCK_SKEW:
        when = issued_on.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise ValidationError(_l("the issue date %(date)s is in the future", date=when), field="issued_on")
    return issued_on


def recipient_name(name: str | None) -> str | None:
    """A recipient's display name as an award stores it: trimmed, without control characters, None when
    empty (also used by the bulk upload's preview and the inbox's intake check).

    Raises:
        ValidationError: longer than 255 characters, or with a line break (field ``recipient.name``).
    """
    text = _clean(name)
    return require_line(text, "recipient.name") if text else None


@dataclass(frozen=True)
class AwardResult:
    """What :func:`award` did: the assertion, and whether this call created it."""

    assertion: Assertion
    created: bool


def _once_key(badge: BadgeClass, email: str) -> str:
    return hashlib.sha256(f"{badge.public_id}\x00{email}".encode()).hexdigest()


def _existing(session: Session, badge: BadgeClass, source_key: str | None, once_key: str | None):
    if source_key:
        found = session.scalar(
            select(Assertion).where(Assertion.badge_class_id == badge.id, Assertion.source_key == source_key)
        )
        if found:
            return found
    if once_key:
        return session.scalar(select(Assertion).where(Assertion.once_key == once_key))
    return None


def award(
    session: Session,
    ctx: HubContext,
    badge_class: BadgeClass,
    recipient: PlatformUser,
    *,
    issued_on: datetime | None = None,
    evidence: Iterable[dict] = (),
    narrative: str | None = None,
    source_key: str | None = None,
    source_event=None,
    outcomes: Iterable[str] = (),
    grade: str | None = None,
    defer_status: bool = False,
) -> AwardResult:
    """Issue ``badge_class`` to ``recipient``: an Assertion row and its signed JWS, together or not at all.

    Idempotent: the same ``source_key`` never issues the same badge class twice, and a badge class
    that may be earned once is issued once per recipient, whatever the source. Races are settled by
    unique constraints (``badge_class_id + source_key``, ``once_key``): the loser of a concurrent
    insert gets the winner's assertion with ``created=False``.

    Args:
        recipient: ``email`` required (trimmed, lower-cased before hashing); ``name`` optional.
        issued_on: aware datetime, default now (UTC); at most :data:`CLOCK_SKEW` in the future.
        evidence: OB 2.0 Evidence dicts (``id`` URL and/or ``narrative``).
        outcomes: platform outcome keys achieved (``LearningEvent.outcomes``); those mapped to
            descriptors for the source event's connector become the award's achieved alignments.
        grade: the grade achieved (EU micro-credential optional element), shown as an OB 3.0 Result.
        defer_status: leave the OB 3.0 status list index and the stored OB 3.0 credentials to the
            caller, who allocates the indexes of a whole batch at once
            (:func:`hub.credentials.status.allocate_statuses`) and then signs and stores the batch's
            credentials (:func:`hub.credentials.ob3.store_credentials`) before committing.

    Raises:
        ValidationError: no or malformed e-mail; a name over 255 characters; an issue date in the future
            (:func:`check_issued_on`).
        MicroCredentialIncomplete: the badge class is a micro-credential lacking mandatory elements
            (:func:`hub.frameworks.microcredentials.check_issuable`).
    """
    microcredentials.check_issuable(session, badge_class, recipient_email=recipient.email)
    email = normalise_email(recipient.email)
    once_key = None if badge_class.allow_multiple else _once_key(badge_class, email)
    # No look-up first: a repeat is rare, and the unique constraints (plus the savepoint below) detect
    # it in the INSERT itself, which saves two queries on every new award.
    issued_on = check_issued_on(issued_on)
    salt = new_salt()
    key = active_key(badge_class.issuer)
    # An issuer made before OB 3.0 keys were made with it gets them at its first award (a write path;
    # public GETs never make them). Its keys are loaded for the line above: no statement when present.
    ob3keys.ensure_keys(session, ctx, badge_class.issuer)
    assertion = Assertion(
        public_id=new_public_id(),
        badge_class=badge_class,
        recipient_type="email",
        recipient_plain=email,
        recipient_salt=salt,
        recipient_identity=hash_identity(email, salt),
        recipient_name=recipient_name(recipient.name),
        issued_on=issued_on,
        expires=issued_on + timedelta(days=badge_class.expires_after_days) if badge_class.expires_after_days else None,
        evidence=[{k: _clean(v) if isinstance(v, str) else v for k, v in e.items()} for e in evidence],
        narrative=_clean(narrative),
        once_key=once_key,
        source_key=source_key,
        source_event_id=getattr(source_event, "id", None),
        signing_key=key,
    )
    # Signed before the INSERT: the payload needs only values set above (the public id included), so the
    # row is written once, complete, instead of inserted and then updated with its signature.
    with session.no_autoflush:
        payload = ob2.assertion_json(ctx.urls, assertion, signed_by=key)
    assertion.signature = sign_jws(payload, key.private_key_encrypted, ctx.settings.key_encryption_key)
    try:
        with session.begin_nested():
            session.add(assertion)
            session.flush()
            frameworks.record_award(
                session,
                assertion,
                connector_id=getattr(source_event, "connector_id", None),
                outcomes=outcomes,
                grade=grade,
            )
            # The OB 3.0 status list index is taken in the same transaction: never reused, never lost.
            # A batch (hub.inbox.services.process_claimed) takes its awards' indexes together at its end.
            if not defer_status:
                entry = allocate_status(session, assertion, fresh=True)
                # Its OB 3.0 credentials are signed and stored now, in the award's transaction (see
                # hub.credentials.ob3.store_credentials); a batch stores its awards' together.
                ob3.store_credentials(session, ctx, [assertion], [entry])
    except IntegrityError:
        # Another transaction issued it first (same source fact, or once-only badge): use theirs.
        found = _existing(session, badge_class, source_key, once_key)
        if found is None:
            raise
        return AwardResult(found, False)
    log.info(
        "awarded badge",
        extra={
            "assertion": assertion.public_id,
            "badge_class": badge_class.public_id,
            "source_key": source_key,
        },
    )
    return AwardResult(assertion, True)


def revoke(session: Session, ctx: HubContext, assertion: Assertion, reason: str) -> Assertion:
    """Revoke an assertion with a reason. It stays published: hosted as HTTP 410, signed through the
    issuer's RevocationList. A once-only badge may be earned again after revocation.

    Raises:
        ValidationError: empty reason, or already revoked.
    """
    reason = _require_text(reason, "reason", 1000)
    if assertion.revoked:
        raise ValidationError(_l("this award is already revoked"), field="assertion")
    assertion.revoked = True
    assertion.revocation_reason = reason
    assertion.revoked_at = utcnow()
    assertion.once_key = None
    session.flush()
    log.info("revoked assertion", extra={"assertion": assertion.public_id})
    return assertion


def get_by_public_id(session: Session, model, public_id: str):
    """Load a row by its public id.

    Raises:
        NotFound: no such row.
    """
    row = session.scalar(select(model).where(model.public_id == public_id))
    if row is None:
        raise NotFound(
            _l("no %(object)s with id %(id)s", object=OBJECT_NAMES.get(model.__name__, model.__name__), id=public_id)
        )
    return row


ISSUER_FIELDS = ("name", "url", "email", "description")
BADGE_CLASS_FIELDS = (
    "name",
    "description",
    "criteria_url",
    "criteria_narrative",
    "tags",
    "alignments",
    "expires_after_days",
    "allow_multiple",
)


def update_issuer(session: Session, ctx: HubContext, issuer: Issuer, *, image: bytes | None = None, **fields) -> Issuer:
    """Change an issuer's profile (any of :data:`ISSUER_FIELDS`) and, when given, its image.

    Raises:
        ValidationError / ImageError: as :func:`create_issuer`; unknown field names.
    """
    unknown = set(fields) - set(ISSUER_FIELDS)
    if unknown:
        raise ValidationError(_l("unknown issuer fields: %(fields)s", fields=joined(sorted(unknown))))
    if "name" in fields:
        issuer.name = require_line(fields["name"], "name")
    if "url" in fields:
        issuer.url = _require_url(fields["url"], "url")
    if "email" in fields:
        issuer.email = normalise_email(fields["email"]) if fields["email"] else None
    if "description" in fields:
        issuer.description = _clean(fields["description"])
    if image:
        issuer.image_type = check_image(
            image, max_bytes=ctx.settings.max_image_bytes, max_pixels=ctx.settings.max_image_pixels
        )
        issuer.image = image
    session.flush()
    return issuer


def update_badge_class(
    session: Session, ctx: HubContext, badge: BadgeClass, *, image: bytes | None = None, **fields
) -> BadgeClass:
    """Change a badge class (any of :data:`BADGE_CLASS_FIELDS`) and, when given, its image. Assertions
    already issued keep pointing at it (OB 2.0 hosted BadgeClass), so they show the new text.

    Raises:
        ValidationError / ImageError: as :func:`create_badge_class`; unknown field names.
    """
    unknown = set(fields) - set(BADGE_CLASS_FIELDS)
    if unknown:
        raise ValidationError(_l("unknown badge class fields: %(fields)s", fields=joined(sorted(unknown))))
    if "expires_after_days" in fields:
        badge.expires_after_days = _positive_days(fields["expires_after_days"])
    if "name" in fields:
        badge.name = require_line(fields["name"], "name")
    if "description" in fields:
        badge.description = _require_text(fields["description"], "description", 10_000)
    if "criteria_url" in fields:
        badge.criteria_url = _require_url(fields["criteria_url"], "criteria_url") if fields["criteria_url"] else None
    if "criteria_narrative" in fields:
        badge.criteria_narrative = _clean(fields["criteria_narrative"])
    if "tags" in fields:
        badge.tags = [t for t in map(_clean, fields["tags"] or ()) if t]
    if "alignments" in fields:
        badge.alignments = [dict(a) for a in fields["alignments"] or ()]
    if "allow_multiple" in fields:
        badge.allow_multiple = bool(fields["allow_multiple"])
    if image:
        badge.image_type = check_image(
            image, max_bytes=ctx.settings.max_image_bytes, max_pixels=ctx.settings.max_image_pixels
        )
        badge.image = image
    session.flush()
    return badge


def list_issuers(where=None) -> Select:
    """Issuers by name; ``where`` narrows them (e.g. a principal's scope)."""
    query = select(Issuer).order_by(Issuer.name, Issuer.id)
    return query.where(where) if where is not None else query


def list_badge_classes(where=None, *, issuer_id: int | None = None) -> Select:
    """Badge classes, newest first; ``where`` is a clause on BadgeClass (e.g. scope on ``issuer_id``)."""
    query = select(BadgeClass).order_by(BadgeClass.id.desc())
    if issuer_id is not None:
        query = query.where(BadgeClass.issuer_id == issuer_id)
    return query.where(where) if where is not None else query


#: Award states as people see them; :func:`hub.certificates.sharing.live_status` tells one award's.
AWARD_STATES = ("valid", "expired", "revoked")


def search_assertions(
    where=None,
    *,
    recipient: str | None = None,
    badge_class_id: int | None = None,
    revoked: bool | None = None,
    state: str | None = None,
) -> Select:
    """Assertions, newest first, joined to their badge class (so ``where`` may use ``BadgeClass.issuer_id``).

    ``recipient`` matches a part of the recipient's e-mail or name, case-insensitively in any script
    (``Żółć`` finds ``Ola Żółć`` on SQLite too); ``%`` and ``_`` in it match themselves
    (:func:`hub.db.folded_contains`). ``state`` (one of :data:`AWARD_STATES`) keeps the awards in that
    state now, as the public page tells it: revoked wins, then expired (``expires`` past), else valid.
    """
    query = select(Assertion).join(BadgeClass, Assertion.badge_class_id == BadgeClass.id).order_by(Assertion.id.desc())
    if where is not None:
        query = query.where(where)
    if recipient and recipient.strip():
        needle = recipient.strip()
        query = query.where(
            folded_contains(Assertion.recipient_plain, needle) | folded_contains(Assertion.recipient_name, needle)
        )
    if badge_class_id is not None:
        query = query.where(Assertion.badge_class_id == badge_class_id)
    if revoked is not None:
        query = query.where(Assertion.revoked.is_(revoked))
    if state == "revoked":
        query = query.where(Assertion.revoked.is_(True))
    elif state in ("valid", "expired"):
        past = Assertion.expires.is_not(None) & (Assertion.expires < utcnow())
        query = query.where(Assertion.revoked.is_(False), past if state == "expired" else ~past)
    return query


def forget_recipient(session: Session, assertion: Assertion) -> Assertion:
    """Erase the recipient's personal data from ``assertion`` (GDPR Art. 17): the plain e-mail and the
    name go; the salted hash stays, so the award still verifies for whoever holds the address."""
    assertion.recipient_plain = None
    assertion.recipient_name = None
    session.flush()
    log.info("recipient data erased", extra={"assertion": assertion.public_id})
    return assertion
