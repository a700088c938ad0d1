"""Award e-mails through a transactional outbox.

Why an outbox and not "send after commit": the award transaction writes a ``notification`` row beside
the assertion (:func:`enqueue_awards`), so the e-mail exists exactly when the award does (a rolled
back award leaves no row, hence no mail about a badge that is not there). After the commit
:func:`deliver` sends it; a crash between commit and send leaves the row ``pending`` and the next
:func:`deliver` (the worker's loop, or the next event) sends it. Rows are claimed with a conditional
UPDATE, as inbox events are, so two processes never send the same e-mail.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hub.badges.models import Assertion
from hub.bidi import isolate_if_needed
from hub.context import HubContext
from hub.db import claim_filter, utcnow
from hub.errors import HubError
from hub.i18n import LOCALES, N_, translations
from hub.learners import tokens
from hub.learners.mail import MailError, Message, mailer_for
from hub.learners.models import Notification
from hub.learners.profile import learner_for

log = logging.getLogger(__name__)

PENDING, SENDING, HANDING, SENT, FAILED = "pending", "sending", "handing", "sent", "failed"
MAX_ATTEMPTS = 5
AWARD, RESEND, BACKPACK = "award", "resend", "backpack"
#: At most one e-mail about an award per this interval (the first e-mail counts too) ...
RESEND_INTERVAL = timedelta(minutes=1)
#: ... and at most this many re-sends of one award per 24 hours.
RESEND_PER_DAY = 5


class ResendRefused(HubError):
    """The award e-mail cannot be sent again: the award is revoked (``reason="revoked"``) or its
    recipient's e-mail address is not on record any more (``reason="no_email"``)."""

    status = 409
    slug = "resend-refused"
    title = "The notification cannot be sent again"


class ResendTooSoon(HubError):
    """Re-sent too recently (``reason="too_soon"``: within :data:`RESEND_INTERVAL` of the last e-mail;
    ``reason="daily_limit"``: :data:`RESEND_PER_DAY` re-sends in 24 hours). ``retry_after`` is in seconds."""

    status = 429
    slug = "resend-too-soon"
    title = "The notification was sent too recently"


def enqueue_awards(session: Session, results) -> list[int]:
    """Add one pending award e-mail per newly created award in ``results``
    (:class:`hub.badges.services.AwardResult`); call inside the award transaction. Returns the row ids."""
    rows = [
        Notification(kind=AWARD, assertion_id=r.assertion.id, status=PENDING, created_at=utcnow())
        for r in results
        if r.created and r.assertion.recipient_plain
    ]
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def resend_award(session: Session, assertion: Assertion) -> Notification:
    """Queue the award e-mail of ``assertion`` again: a new ``resend`` outbox row (``award`` when none
    was queued before, e.g. the award was made with ``notify`` off) in the caller's transaction; after
    the commit :func:`deliver` sends it with a fresh claim link (earlier links stay valid until used or
    expired). Concurrent re-sends of one award are serialised by a row lock on the
    assertion (PostgreSQL; SQLite has one writer at a time).

    Raises:
        ResendRefused: the award is revoked, or its recipient's e-mail address was erased (only the
            salted hash is kept).
        ResendTooSoon: an e-mail about this award was queued less than :data:`RESEND_INTERVAL` ago, or
            :data:`RESEND_PER_DAY` re-sends were queued in the last 24 hours.
    """
    session.execute(select(Assertion.id).where(Assertion.id == assertion.id).with_for_update())
    if assertion.revoked:
        raise ResendRefused("the award is revoked; its recipient is not notified again", reason="revoked")
    if not assertion.recipient_plain:
        raise ResendRefused(
            "the recipient's e-mail address is not on record (erased; only its hash is kept)", reason="no_email"
        )
    now = utcnow()
    recent = session.execute(
        select(Notification.kind, Notification.created_at).where(
            Notification.assertion_id == assertion.id, Notification.created_at > now - timedelta(days=1)
        )
    ).all()
    last = max((created for _kind, created in recent), default=None)
    if last is not None and now - last < RESEND_INTERVAL:
        wait = int((last + RESEND_INTERVAL - now).total_seconds()) + 1
        raise ResendTooSoon(
            f"an e-mail about this award was sent less than a minute ago; try again in {wait} s",
            reason="too_soon",
            retry_after=wait,
        )
    resends = sorted(created for kind, created in recent if kind == RESEND)
    if len(resends) >= RESEND_PER_DAY:
        wait = int((resends[-RESEND_PER_DAY] + timedelta(days=1) - now).total_seconds()) + 1
        raise ResendTooSoon(
            f"this award's e-mail was re-sent {RESEND_PER_DAY} times in 24 hours; try again in {wait} s",
            reason="daily_limit",
            retry_after=wait,
        )
    # The first e-mail about an award made without one (console, bulk or API with notify off) is the
    # award e-mail itself; later ones are re-sends (and count towards RESEND_PER_DAY).
    earlier = session.scalar(select(Notification.id).where(Notification.assertion_id == assertion.id).limit(1))
    kind = RESEND if earlier is not None else AWARD
    row = Notification(kind=kind, assertion_id=assertion.id, status=PENDING, created_at=now)
    session.add(row)
    session.flush()
    return row


def history(session: Session, assertion: Assertion) -> list[Notification]:
    """The award's e-mails (first and re-sent), newest first."""
    return list(
        session.scalars(
            select(Notification).where(Notification.assertion_id == assertion.id).order_by(Notification.id.desc())
        )
    )


def award_message(session: Session, ctx: HubContext, assertion: Assertion, *, message_id: str | None = None) -> Message:
    """The award e-mail with a fresh claim link, in the recipient's language (their setting, else
    ``HUB_DEFAULT_LOCALE``)."""
    learner = learner_for(session, assertion)
    locale = learner.locale if learner is not None and learner.locale in LOCALES else ctx.settings.default_locale
    _ = translations(ctx.settings.instance_path, locale).gettext
    badge = assertion.badge_class
    link = ctx.urls.claim(tokens.issue(session, ctx, tokens.CLAIM, assertion.recipient_plain, assertion))
    # names people typed are isolated (hub.bidi): a U+202E in one cannot reverse the text after it
    name = isolate_if_needed(assertion.recipient_name)
    greeting = _("Hello %(name)s,") % {"name": name} if name else _("Hello,")
    badge_name, issuer_name = isolate_if_needed(badge.name), isolate_if_needed(badge.issuer.name)
    text = "\n\n".join(
        [
            greeting,
            _("%(issuer)s has awarded you the badge „%(badge)s”.") % {"issuer": issuer_name, "badge": badge_name},
            _("Open your badge, download its certificate and choose who may see it:"),
            link,
            _("The link works once and for %(days)d days; later you can sign in with your e-mail address at %(url)s.")
            % {"days": ctx.settings.claim_link_days, "url": ctx.urls.learner_home()},
        ]
    )
    return Message(
        to=assertion.recipient_plain,
        subject=_("You have earned a badge: %(badge)s") % {"badge": badge_name},
        text=text,
        locale=locale,
        message_id=message_id,
    )


#: Stored on a row whose process died while handing it to the mail server (see :func:`deliver`).
INTERRUPTED = "delivery was interrupted while the mail server had it; not sent again, to avoid a duplicate"


def release_own(ctx: HubContext, owner: str) -> int:
    """Put e-mails ``owner`` claimed but never handed to the mail server (``sending``) back to
    ``pending`` (after a database outage; see :func:`hub.inbox.services.own_claims`). Returns how many."""
    with ctx.db.session_scope() as session:
        result = session.execute(
            update(Notification)
            .where(Notification.status == SENDING, Notification.claimed_by == owner)
            .values(status=PENDING, claimed_by=None)
        )
        return int(result.rowcount or 0)


def _claim_rows(ctx: HubContext, ids: list[int] | None, limit: int, owner: str | None = None) -> list[int]:
    """Move waiting notifications (``ids``, or the oldest ``limit``) to ``sending``; returns those this
    process now holds. One ``UPDATE … RETURNING``; concurrent senders get disjoint sets. A ``sending``
    row whose claim is stale was never handed to the mail server (its process died before): it is
    claimed again. A stale ``handing`` row may have been sent: it is failed with :data:`INTERRUPTED`
    (an administrator can re-send it), never sent twice."""
    stale = utcnow() - timedelta(seconds=ctx.settings.stale_processing_seconds)
    with ctx.db.session_scope() as session:
        session.execute(
            update(Notification)
            .where(Notification.status == HANDING, Notification.claimed_at < stale)
            .values(status=FAILED, error=INTERRUPTED)
        )
        if ids is None:
            # Stale ``sending`` rows back to pending first: the pick is then one ordered index range
            # (ix_notification_status; see hub.db.claim_filter), not a scan of every notification.
            session.execute(
                update(Notification)
                .where(Notification.status == SENDING, Notification.claimed_at < stale)
                .values(status=PENDING, claimed_by=None)
            )
            pending = Notification.status == PENDING
            pick = select(Notification.id).where(pending).order_by(Notification.id).limit(limit)
            chosen = claim_filter(Notification.id, pick, ctx.db.dialect) & pending
        else:
            waiting = (Notification.status == PENDING) | (
                (Notification.status == SENDING) & (Notification.claimed_at < stale)
            )
            chosen = Notification.id.in_(ids) & waiting
        result = session.execute(
            update(Notification)
            .where(chosen)
            .values(status=SENDING, claimed_at=utcnow(), claimed_by=owner, attempts=Notification.attempts + 1)
            .returning(Notification.id)
        )
        return sorted(result.scalars().all())


def _set(ctx: HubContext, notification_id: int, expected: str, *, marked_at: datetime | None = None, **values) -> bool:
    """One committed ``UPDATE`` of one row, only while it is in state ``expected`` (and, with
    ``marked_at``, still carries the ``claimed_at`` this process wrote); whether it matched."""
    where = [Notification.id == notification_id, Notification.status == expected]
    if marked_at is not None:
        where.append(Notification.claimed_at == marked_at)
    with ctx.db.statement_scope() as session:
        return bool(session.execute(update(Notification).where(*where).values(**values)).rowcount)


#: What this process still owes rows it marked ``handing`` when the database went away, per context:
#: row id → (the ``claimed_at`` its mark wrote, the values to write). Sent but not marked ``sent``:
#: ``sent``; marked (maybe: the statement's answer never came) but not sent: back to ``pending``.
#: Written at the next pass, before the stale ``handing`` sweep would fail the row as "interrupted";
#: the timestamp guards that nothing else has touched the row since.
_OWED: dict[int, dict[int, tuple[datetime, dict]]] = {}


def _settle_owed(ctx: HubContext) -> None:
    """Write what :data:`_OWED` holds for ``ctx`` (raises while the database is still away: next pass)."""
    waiting = _OWED.get(id(ctx))
    while waiting:
        notification_id, (marked_at, values) = next(iter(waiting.items()))
        _set(ctx, notification_id, HANDING, marked_at=marked_at, **values)
        del waiting[notification_id]


def deliver(ctx: HubContext, ids: list[int] | None = None, limit: int = 100, *, owner: str | None = None) -> int:
    """Send pending award e-mails (``ids``, or the oldest ``limit`` pending); returns how many were sent.

    Each e-mail is sent at most once, whatever crashes and restarts: a batch is claimed (``sending``)
    and its messages prepared (claim links written) in two transactions; then each row is marked
    ``handing`` in a committed statement just before it goes to the mail server, and ``sent`` (or back
    to ``pending`` after a refusal, up to :data:`MAX_ATTEMPTS`) just after. A process that dies holding
    ``sending`` rows sent none of them (they are claimed again once stale); one that dies in the
    milliseconds of a hand-over leaves that one row ``handing``, which is failed with
    :data:`INTERRUPTED` rather than risk a duplicate. Each message carries a Message-ID made from the
    row id, so a mail system can recognise a copy.

    Never raises for a message: a mail server's refusal or any other error while sending one message
    (a poison message) is recorded on its row and the others are sent. Database errors are logged and
    leave the rows for a later pass; a row sent while the database was away is marked ``sent`` by this
    process's next pass.
    """
    try:
        _settle_owed(ctx)
        claimed = _claim_rows(ctx, ids, limit, owner)
        if not claimed:
            return 0
        messages: dict[int, Message] = {}
        with ctx.db.session_scope() as session:
            for row in session.scalars(select(Notification).where(Notification.id.in_(claimed))):
                if row.kind == BACKPACK:
                    message = backpack_message(session, ctx, row)
                    if message is None:
                        row.status, row.error = FAILED, "imported badge or learner address gone"
                    else:
                        messages[row.id] = message
                    continue
                if row.assertion.recipient_plain is None:  # personal data erased meanwhile
                    row.status, row.error = FAILED, "recipient erased"
                    continue
                try:
                    with session.begin_nested():
                        messages[row.id] = award_message(session, ctx, row.assertion, message_id=_message_id(ctx, row))
                except Exception as exc:  # noqa: BLE001 - one message that cannot be built must not stop the rest
                    log.exception("award e-mail %s could not be prepared", row.id)
                    row.status = FAILED if row.attempts >= MAX_ATTEMPTS else PENDING
                    row.error = f"could not be prepared: {type(exc).__name__}"
    except Exception:  # never fail the caller (an event already committed); the rows stay for a retry
        log.exception("award e-mails could not be prepared")
        return 0
    mailer = mailer_for(ctx.settings)
    sent = 0
    for notification_id, message in messages.items():
        try:
            # Connected, greeted and logged in before the row is marked: a crash from here to the
            # server's answer is the only one that leaves a row "interrupted", and it is one exchange.
            mailer.ready()
        except MailError as exc:
            _record_failure(ctx, notification_id, str(exc.detail))
            continue
        marked_at = utcnow()
        try:
            if not _set(ctx, notification_id, SENDING, status=HANDING, claimed_at=marked_at):
                continue  # taken over by another process after a stale claim
        except Exception:
            log.exception("award e-mail %s: the database is unreachable; left for a later pass", notification_id)
            # The mark may have committed; the e-mail was not sent.
            _OWED.setdefault(id(ctx), {})[notification_id] = (marked_at, {"status": PENDING, "claimed_by": None})
            break
        try:
            mailer.send(message)
        except Exception as exc:  # noqa: BLE001 - MailError (refused) or a poison message: recorded, not fatal
            detail = exc.detail if isinstance(exc, MailError) else f"{type(exc).__name__}: {exc}"
            _record_failure(ctx, notification_id, str(detail))
            continue
        sent += 1
        done = {"status": SENT, "sent_at": utcnow(), "error": None}
        try:
            _set(ctx, notification_id, HANDING, **done)
        except Exception:
            log.exception("award e-mail %s was sent but could not be recorded (next pass records it)", notification_id)
            _OWED.setdefault(id(ctx), {})[notification_id] = (marked_at, done)
    return sent


def _record_failure(ctx: HubContext, notification_id: int, detail: str) -> None:
    try:
        with ctx.db.session_scope() as session:
            row = session.get(Notification, notification_id)
            row.status = FAILED if row.attempts >= MAX_ATTEMPTS else PENDING
            row.error = detail[:2000]
            log.warning("award e-mail %s not sent (attempt %d): %s", notification_id, row.attempts, detail)
    except Exception:
        log.exception("award e-mail %s: the failure could not be recorded", notification_id)


def _message_id(ctx: HubContext, row: Notification) -> str:
    """``<notification-<row id>.<assertion id>@<hub host>>``: the same for every attempt at one e-mail."""
    host = urlsplit(ctx.settings.base_url).hostname or "badgehub.invalid"
    about = row.assertion.public_id if row.assertion is not None else f"imported-{row.imported_badge_id}"
    return f"<notification-{row.id}.{about}@{host}>"


def enqueue_backpack(session: Session, imported_badge_id: int) -> Notification:
    """Add a pending ``backpack`` e-mail (an imported badge's verification state changed) in the
    caller's transaction; :func:`deliver` sends it after the commit, like award e-mails."""
    row = Notification(kind=BACKPACK, imported_badge_id=imported_badge_id, status=PENDING, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


#: The state names in e-mails (message ids; translated in the learner's language).
STATE_NAMES = {
    "valid": N_("valid"),
    "revoked": N_("revoked"),
    "expired": N_("expired"),
    "invalid": N_("not valid"),
    "unverifiable": N_("cannot be verified"),
}


def backpack_message(session: Session, ctx: HubContext, row: Notification) -> Message | None:
    """The e-mail telling a learner that an imported badge's state changed (their language), or None
    when the badge or every address of the learner is gone."""
    from hub.backpack.models import ImportedBadge
    from hub.learners.models import Learner

    badge = session.get(ImportedBadge, row.imported_badge_id) if row.imported_badge_id else None
    learner = session.get(Learner, badge.learner_id) if badge is not None else None
    if badge is None or learner is None or not learner.emails:
        return None
    locale = learner.locale if learner.locale in LOCALES else ctx.settings.default_locale
    _ = translations(ctx.settings.instance_path, locale).gettext
    name = badge.name or _("an imported badge")
    state = _(STATE_NAMES.get(badge.state, badge.state))
    text = "\n\n".join(
        [
            _("Hello,"),
            _("The badge „%(badge)s” in your backpack was checked again: it is now %(state)s.")
            % {"badge": name, "state": state},
            _("See each check in your backpack:"),
            ctx.urls.learner_home() + f"#imported-{badge.public_id}",
        ]
    )
    return Message(
        to=learner.emails[0].email,
        subject=_("Your badge „%(badge)s” is now %(state)s") % {"badge": name, "state": state},
        text=text,
        locale=locale,
        message_id=_message_id(ctx, row),
    )
