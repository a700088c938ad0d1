"""Outgoing webhooks: the outbox, signing and delivery.

An event (``award.issued``, ``award.revoked``, ``award.expired``, ``path.completed``, ``event.failed``)
is written by :func:`emit` as one :class:`hub.outgoing.models.WebhookDelivery` row per active
subscription of the issuer that chose it, in the transaction of what it tells, so no delivery exists
for a rolled-back award and none is lost after the commit. The job runner drains the outbox
(:func:`deliver`, one pass of :meth:`hub.jobs.runner.Runner.run_pass`):

- each body is JSON ``{"type", "timestamp", "data"}`` signed with the subscription's ``whsec_`` secret
  by the ``standardwebhooks`` library (https://github.com/standard-webhooks/standard-webhooks/blob/main/
  spec/standard-webhooks.md: headers ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``), the
  scheme the hub's own webhook intake verifies (:mod:`connectors.webhooks.verify`);
- requests go through :func:`hub.netguard.guarded_pool` (no private addresses unless
  ``HUB_WEBHOOK_ALLOW_PRIVATE_HOSTS``, no redirects followed) with ``HUB_WEBHOOK_TIMEOUT_MS``;
- a 2xx answer delivers; anything else (an error status, a timeout, a refused connection) is retried
  after :func:`retry_delay` (exponential, 5 s doubling up to 6 h, with jitter) until
  ``HUB_WEBHOOK_RETRY_HOURS`` (3 days) after the event; then the delivery fails, the subscription is
  switched off and the issuer's administrators get an e-mail (job ``webhooks.disabled_mail``);
- per subscription, deliveries with the same ``order_key`` (the award) go out in the order they were
  written: a later one waits while an earlier one is pending; the deliveries of one pass (never two of
  one award for one subscription) are sent :data:`PARALLEL` at a time.

Delivery is at least once (a crash between the answer and its record sends again): receivers
deduplicate by ``webhook-id``, which stays the same on every attempt and on a replay.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import os
import random
import secrets
import socket
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, exists, insert, select, update
from sqlalchemy.orm import Session, aliased
from standardwebhooks.webhooks import Webhook

from hub import jobs
from hub.accounts.models import Membership, User
from hub.badges.models import Assertion, Issuer
from hub.context import HubContext
from hub.db import claim_filter, new_public_id, utcnow
from hub.errors import ValidationError
from hub.i18n import lazy as _l
from hub.netguard import BlockedAddress, check_url, guarded_pool
from hub.outgoing.models import (
    DELIVERED,
    EVENT_TYPES,
    FAILED,
    PENDING,
    SENDING,
    WebhookDelivery,
    WebhookSubscription,
)
from hub.timefmt import isoformat_z

log = logging.getLogger(__name__)

#: The event a test send delivers (always, whatever the subscription chose).
TEST_EVENT = "webhook.test"
RETRY_BASE_SECONDS = 5.0
RETRY_CAP_SECONDS = 6 * 3600.0
_CACHE = "hub.webhook_subscriptions"
DISABLED_MAIL = "webhooks.disabled_mail"
EXPIRED_SCAN = "webhooks.expired_scan"
#: How far back the ``award.expired`` scan looks, days (an award that expired earlier was told then).
EXPIRED_LOOKBACK_DAYS = 30


def new_secret() -> str:
    """A fresh Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def check_subscription_url(ctx: HubContext, url: str) -> str:
    """``url`` stripped, if a subscription may use it.

    Raises:
        ValidationError: (field ``url``) not ``https://`` (``http://`` too with
            ``HUB_WEBHOOK_ALLOW_PRIVATE_HOSTS``), too long, a host that does not resolve, or one with a
            non-public address (loopback, private, link-local, ...) while private hosts are not allowed.
    """
    url = (url or "").strip()
    allow_private = ctx.settings.webhook_allow_private_hosts
    schemes = ("https://", "http://") if allow_private else ("https://",)
    if not url.lower().startswith(schemes) or len(url) > 2048:
        raise ValidationError(_l("the webhook URL must be an https:// URL"), field="url")
    try:
        check_url(url, allow_private=allow_private)
    except BlockedAddress:
        raise ValidationError(
            _l("the webhook URL's host has a private or local address, which the hub does not call"), field="url"
        ) from None
    except (socket.gaierror, UnicodeError):
        raise ValidationError(_l("the webhook URL's host name does not resolve"), field="url") from None
    return url


def check_events(events: Iterable[str]) -> list[str]:
    """The chosen event types, in :data:`EVENT_TYPES` order.

    Raises:
        ValidationError: (field ``events``) none chosen, or an unknown one.
    """
    chosen = {e.strip() for e in events if e and e.strip()}
    unknown = sorted(chosen - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(_l("unknown webhook event type: %(type)s", type=", ".join(unknown)), field="events")
    if not chosen:
        raise ValidationError(_l("choose at least one event type"), field="events")
    return [e for e in EVENT_TYPES if e in chosen]


def secret_of(ctx: HubContext, sub: WebhookSubscription) -> str:
    """The subscription's ``whsec_`` secret, decrypted."""
    return ctx.box.decrypt(sub.secret_encrypted).decode("utf-8")


def forget_cache(session: Session) -> None:
    """Drop this transaction's cached subscription lists (after a subscription changed)."""
    session.info.pop(_CACHE, None)


def _subscribers(session: Session, issuer_id: int, event_type: str) -> list[int]:
    cache = session.info.setdefault(_CACHE, {})
    subs = cache.get(issuer_id)
    if subs is None:
        rows = session.execute(
            select(WebhookSubscription.id, WebhookSubscription.events).where(
                WebhookSubscription.issuer_id == issuer_id, WebhookSubscription.active.is_(True)
            )
        ).all()
        subs = cache[issuer_id] = [(sub_id, frozenset(events or ())) for sub_id, events in rows]
    return [sub_id for sub_id, events in subs if event_type == TEST_EVENT or event_type in events]


def body_of(event_type: str, data: dict, at: datetime | None = None) -> dict:
    """The JSON body of an event (Standard Webhooks' recommended shape): ``{"type", "timestamp" (ISO
    8601 UTC), "data"}``."""
    return {"type": event_type, "timestamp": isoformat_z(at or utcnow()), "data": data}


@functools.cache
def _delivery_insert():
    """The outbox ``INSERT``, on the table and built once per process (see :func:`emit`)."""
    return insert(cast(Table, WebhookDelivery.__table__))


def emit(
    session: Session,
    ctx: HubContext,
    issuer_id: int,
    event_type: str,
    data: dict,
    *,
    order_key: str | None = None,
    dedup_key: str | None = None,
    subscription_ids: list[int] | None = None,
) -> int:
    """Write one delivery of ``event_type`` per active subscription of ``issuer_id`` that chose it (or
    the given ``subscription_ids``), in the caller's transaction (one ``INSERT``), and wake the runner
    after the commit. Returns how many were written (0: nobody listens, nothing written).

    ``dedup_key``: ``<dedup_key>:<subscription id>`` is unique, so the same fact is not told twice
    (the caller checks first; a concurrent writer's duplicate raises ``IntegrityError``)."""
    targets = subscription_ids if subscription_ids is not None else _subscribers(session, issuer_id, event_type)
    if not targets:
        return 0
    now = utcnow()
    payload = body_of(event_type, data, now)
    # Core on the session's connection (same transaction): the ORM's bulk-insert path cost more CPU
    # than the rows (0.4 of 1.0 ms per award with 3 subscriptions), and its autoflush is not needed,
    # as the rows refer to nothing the transaction has still to write.
    session.connection().execute(
        _delivery_insert(),
        [
            {
                "public_id": new_public_id(),
                "subscription_id": sub_id,
                "issuer_id": issuer_id,
                "event_type": event_type,
                "order_key": order_key,
                "payload": payload,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
                "dedup_key": f"{dedup_key}:{sub_id}" if dedup_key else None,
            }
            for sub_id in targets
        ],
    )
    jobs.wake_after_commit(session, ctx)
    return len(targets)


def award_data(ctx: HubContext, assertion: Assertion) -> dict:
    """The ``data`` of an award event: the award's public id and URLs, its badge class and issuer,
    the recipient's e-mail and name, issue/expiry dates and revocation."""
    badge = assertion.badge_class
    return {
        "id": assertion.public_id,
        "assertion": ctx.urls.assertion(assertion.public_id),
        "credential": ctx.urls.credential(assertion.public_id),
        "badge_class": {"id": badge.public_id, "name": badge.name, "url": ctx.urls.badge_class(badge.public_id)},
        "issuer": badge.issuer.public_id,
        "recipient": {"email": assertion.recipient_plain, "name": assertion.recipient_name},
        "issued_on": isoformat_z(assertion.issued_on),
        "expires": isoformat_z(assertion.expires) if assertion.expires else None,
        "revoked": bool(assertion.revoked),
        "revocation_reason": assertion.revocation_reason,
    }


def emit_award(session: Session, ctx: HubContext, event_type: str, assertion: Assertion, **kw: Any) -> int:
    """:func:`emit` an award event (``award.issued``/``revoked``/``expired``) ordered by the award."""
    issuer_id = assertion.badge_class.issuer_id
    if not _subscribers(session, issuer_id, event_type):
        return 0
    return emit(session, ctx, issuer_id, event_type, award_data(ctx, assertion), order_key=assertion.public_id, **kw)


# ---- delivery -------------------------------------------------------------------------------------


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: 5 s · 2^(attempts−1), at most 6 h,
    plus up to 10 % jitter."""
    base = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return base * (1 + random.random() / 10)


@functools.cache
def _claim_statements(dialect: str):
    """The claim's two statements, built once per dialect (building them, the alias above all, cost
    more CPU than running them: 4.2 ms of a claim of 50 on SQLite); the values are bound per call
    (``now``, ``stale``, ``owner``, ``limit``)."""
    D = WebhookDelivery
    earlier = aliased(WebhookDelivery)
    blocked = exists().where(
        earlier.subscription_id == D.subscription_id,
        earlier.order_key == D.order_key,
        earlier.id < D.id,
        earlier.status.in_((PENDING, SENDING)),
    )
    active = select(WebhookSubscription.id).where(WebhookSubscription.active.is_(True))
    requeue = (
        update(D).where(D.status == SENDING, D.claimed_at < bindparam("stale")).values(status=PENDING, claimed_by=None)
    )
    due = (D.status == PENDING) & (D.next_attempt_at <= bindparam("now"))
    pick = (
        select(D.id)
        .where(due, D.subscription_id.in_(active), ~blocked)
        .order_by(D.next_attempt_at, D.id)
        .limit(bindparam("limit"))
    )
    take = (
        update(D)
        .where(claim_filter(D.id, pick, dialect), due)
        .values(status=SENDING, claimed_at=bindparam("now"), claimed_by=bindparam("owner"), attempts=D.attempts + 1)
        .returning(D.id)
    )
    return requeue, take


def claim(ctx: HubContext, limit: int = 50, *, owner: str | None = None) -> list[int]:
    """Move up to ``limit`` due deliveries of active subscriptions to ``sending`` and return their ids
    (one ``UPDATE … RETURNING``, ``SKIP LOCKED`` on PostgreSQL). A delivery is not due while an earlier
    one of its subscription with the same ``order_key`` is pending or sending (order per award)."""
    now = utcnow()
    requeue, take = _claim_statements(ctx.db.dialect)
    with ctx.db.session_scope() as session:
        # Abandoned sends back to pending first, so the pick walks ix_webhook_delivery_status_next in
        # order and stops at ``limit`` (see hub.db.claim_filter) instead of sorting the whole backlog.
        connection = session.connection()
        connection.execute(requeue, {"stale": now - timedelta(seconds=ctx.settings.job_lease_seconds)})
        result = connection.execute(take, {"now": now, "owner": owner, "limit": limit})
        return sorted(result.scalars().all())


def release_own(ctx: HubContext, owner: str) -> int:
    """Put deliveries still ``sending`` under ``owner``'s claim back to pending (after a database outage)."""
    with ctx.db.session_scope() as session:
        result = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == SENDING, WebhookDelivery.claimed_by == owner)
            .values(status=PENDING, attempts=WebhookDelivery.attempts - 1)
        )
        return int(getattr(result, "rowcount", 0) or 0)


def sign(secret: str, msg_id: str, at: datetime, text: str) -> dict[str, str]:
    """Standard Webhooks headers for ``text`` (``webhook-id``, ``webhook-timestamp``,
    ``webhook-signature``: ``v1,<base64 HMAC-SHA256>``), made by the ``standardwebhooks`` library."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, text),
    }


def _post(http, ctx: HubContext, url: str, secret: str, msg_id: str, text: str):
    """POST one signed body through the guarded pool. Returns ``(status or None, error or None)``."""
    import urllib3

    headers = {"content-type": "application/json", "user-agent": "BadgeHub-Webhooks/1"}
    headers.update(sign(secret, msg_id, utcnow(), text))
    timeout = ctx.settings.webhook_timeout_seconds
    try:
        answer = http.request(
            "POST",
            url,
            body=text.encode("utf-8"),
            headers=headers,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            retries=False,
            redirect=False,
            preload_content=True,
        )
    except BlockedAddress as exc:
        return None, f"blocked: {exc}"
    except urllib3.exceptions.TimeoutError:
        return None, f"timed out after {timeout:g} s"
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= answer.status < 300:
        return answer.status, None
    return answer.status, f"HTTP {answer.status}"


def deliver(ctx: HubContext, *, owner: str | None = None, limit: int = 50) -> int:
    """Claim due deliveries and send them (one guarded ``urllib3`` pool per runner thread, kept between
    passes: connections to a receiver stay open). Returns how many were claimed. Never raises for a
    receiver's failure.

    Each subscription's deliveries of the pass go out one after another on its kept-alive connection,
    the subscriptions side by side (:data:`PARALLEL`). A receiver that does not answer (time-out,
    refused, unreachable) costs the pass one time-out: its remaining deliveries are not attempted and
    wait for the next attempt (:data:`NOT_ATTEMPTED`), while other subscriptions go on."""
    ids = claim(ctx, limit, owner=owner)
    if not ids:
        return 0
    with ctx.db.read_scope() as session:
        rows = session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.public_id,
                WebhookDelivery.created_at,
                WebhookDelivery.attempts,
                WebhookDelivery.payload,
                WebhookSubscription,
            )
            .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
            .where(WebhookDelivery.id.in_(ids))
            .order_by(WebhookDelivery.id)
        ).all()
        groups: dict[int, list[tuple]] = {}
        targets: dict[int, tuple[str, str]] = {}
        for delivery_id, public_id, created_at, attempts, payload, sub in rows:
            if sub.id not in targets:  # each subscription's secret decrypted once per pass
                targets[sub.id] = (sub.url, secret_of(ctx, sub))
            text = json.dumps(payload, ensure_ascii=False)
            groups.setdefault(sub.id, []).append((delivery_id, public_id, created_at, attempts, text))
    allow_private = ctx.settings.webhook_allow_private_hosts

    def send(sub_id: int) -> list[tuple]:
        url, secret = targets[sub_id]
        http = _http_session(allow_private)
        out: list[tuple] = []
        items = groups[sub_id]
        for n, (delivery_id, public_id, created_at, attempts, text) in enumerate(items):
            status, error = _post(http, ctx, url, secret, "msg_" + public_id.replace("-", ""), text)
            out.append((delivery_id, created_at, attempts, sub_id, status, error))
            if status is None:  # no answer at all: the rest would wait as long
                out.extend((d, c, a, sub_id, None, NOT_ATTEMPTED) for d, _, c, a, _ in items[n + 1 :])
                break
        return out

    # A claimed batch never holds two deliveries of one award for one subscription (see claim), so
    # the subscriptions' sequences are independent of each other.
    if len(groups) > 1:
        outcomes = [o for part in _executor().map(send, list(groups)) for o in part]
    else:
        outcomes = [o for sub_id in groups for o in send(sub_id)]
    _record(ctx, outcomes)
    return len(outcomes)


#: The error of a claimed delivery left unsent because its receiver had just failed to answer another
#: one in the same pass: it goes back to waiting without counting as an attempt.
NOT_ATTEMPTED = "not attempted: the receiver did not answer an earlier delivery of this pass"


_executor_lock = threading.Lock()
_executors: dict[int, ThreadPoolExecutor] = {}
#: Subscriptions of one delivery pass served side by side.
PARALLEL = 4


def _executor() -> ThreadPoolExecutor:
    """This process's sender threads (made again after a fork)."""
    pid = os.getpid()
    with _executor_lock:
        found = _executors.get(pid)
        if found is None:
            found = _executors[pid] = ThreadPoolExecutor(PARALLEL, thread_name_prefix="hub-webhooks")
        return found


_local = threading.local()


def _http_session(allow_private: bool):
    """This thread's guarded ``urllib3`` pool (:func:`hub.netguard.guarded_pool`), kept between passes
    so connections to a receiver stay open (HTTP keep-alive)."""
    found = getattr(_local, "pools", None)
    if found is None:
        found = _local.pools = {}
    if allow_private not in found:
        found[allow_private] = guarded_pool(allow_private=allow_private)
    return found[allow_private]


def _record(ctx: HubContext, outcomes: list) -> None:
    """Store a pass's outcomes: the delivered ones in one statement (and one per subscription that had
    been failing), each failure on its own (next attempt, or failed for good and the subscription off)."""
    now = utcnow()
    window = timedelta(hours=ctx.settings.webhook_retry_hours)
    D = WebhookDelivery
    with ctx.db.session_scope() as session:
        ok = [o for o in outcomes if o[5] is None]
        for status in {o[4] for o in ok}:
            session.execute(
                update(D)
                .where(D.id.in_([o[0] for o in ok if o[4] == status]), D.status == SENDING)
                .values(status=DELIVERED, delivered_at=now, last_status=status, last_error=None)
            )
        if ok:
            session.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.id.in_({o[3] for o in ok}), WebhookSubscription.consecutive_failures != 0)
                .values(consecutive_failures=0)
            )
        for delivery_id, created_at, attempts, sub_id, status, error in outcomes:
            if error is None:
                continue
            if error == NOT_ATTEMPTED:  # back to waiting, its claim not counted; tried with the failed one
                session.execute(
                    update(D)
                    .where(D.id == delivery_id, D.status == SENDING)
                    .values(
                        status=PENDING,
                        attempts=D.attempts - 1,
                        next_attempt_at=min(created_at + window, now + timedelta(seconds=retry_delay(attempts))),
                    )
                )
                continue
            log.warning("webhook delivery %s attempt %d failed: %s", delivery_id, attempts, error)
            session.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.id == sub_id)
                .values(consecutive_failures=WebhookSubscription.consecutive_failures + 1)
            )
            deadline = created_at + window
            if now >= deadline:
                session.execute(
                    update(D)
                    .where(D.id == delivery_id, D.status == SENDING)
                    .values(status=FAILED, last_status=status, last_error=error)
                )
                _switch_off(session, ctx, sub_id, error)
                continue
            later = min(deadline, now + timedelta(seconds=retry_delay(attempts)))
            session.execute(
                update(D)
                .where(D.id == delivery_id, D.status == SENDING)
                .values(status=PENDING, next_attempt_at=later, last_status=status, last_error=error)
            )


def _switch_off(session: Session, ctx: HubContext, sub_id: int, error: str) -> None:
    sub = session.get(WebhookSubscription, sub_id)
    if sub is None or not sub.active:
        return
    sub.active = False
    sub.disabled_at = utcnow()
    sub.disabled_reason = f"deliveries failed for {ctx.settings.webhook_retry_hours} hours; last: {error}"[:2000]
    log.error("webhook subscription %s switched off: %s", sub.public_id, sub.disabled_reason)
    jobs.enqueue(
        session,
        DISABLED_MAIL,
        {"subscription": sub.id},
        dedup_key=f"{DISABLED_MAIL}:{sub.public_id}:{int(sub.disabled_at.timestamp())}",
        issuer_id=sub.issuer_id,
        ctx=ctx,
    )


def administrators(session: Session, issuer_id: int) -> list[tuple[str, str]]:
    """``(e-mail, locale)`` of the issuer's active administrators, and the issuer's own contact address."""
    from hub.accounts.access import ROLE_ADMIN

    rows = session.execute(
        select(User.email, User.locale)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.issuer_id == issuer_id, Membership.role == ROLE_ADMIN, User.active.is_(True))
        .order_by(User.email)
    ).all()
    found = [(email, locale or "") for email, locale in rows]
    issuer = session.get(Issuer, issuer_id)
    if issuer is not None and issuer.email and issuer.email not in {e for e, _ in found}:
        found.append((issuer.email, ""))
    return found


def _disabled_mail(ctx: HubContext, run: jobs.JobRun) -> None:
    """The ``webhooks.disabled_mail`` job: tell the issuer's administrators a subscription was switched off."""
    from hub.i18n import LOCALES, translations
    from hub.learners.mail import Message, mailer_for

    with ctx.db.read_scope() as session:
        sub = session.get(WebhookSubscription, run.payload["subscription"])
        if sub is None:
            return
        recipients = administrators(session, sub.issuer_id)
        url, reason = sub.url, sub.disabled_reason or ""
    mailer = mailer_for(ctx.settings)
    for email, locale in recipients:
        lang = locale if locale in LOCALES else ctx.settings.default_locale
        _ = translations(ctx.settings.instance_path, lang).gettext
        text = (
            _("The hub switched off the webhook subscription to %(url)s because its deliveries kept failing.")
            % {"url": url}
            + "\n\n"
            + reason
            + "\n\n"
            + _(
                "Deliveries wait: switch the subscription on again in the console once the receiver works, "
                "and replay failed deliveries from its delivery log."
            )
        )
        subject = _("Badge Hub: webhook subscription switched off")
        mailer.send(Message(to=email, subject=subject, text=text, locale=lang))


def _expired_targets(session: Session, ctx: HubContext):
    listening = session.scalars(select(WebhookSubscription.events).where(WebhookSubscription.active.is_(True))).all()
    if any("award.expired" in (events or ()) for events in listening):
        yield "all", {}, None, 300


def scan_expired(ctx: HubContext, run: jobs.JobRun | None = None) -> int:
    """The ``webhooks.expired_scan`` job (every 5 minutes while someone listens): one ``award.expired``
    per award that expired in the last :data:`EXPIRED_LOOKBACK_DAYS` days and was not told yet (dedup
    key per award and subscription). Returns how many deliveries were written."""
    now = utcnow()
    written = 0
    with ctx.db.session_scope() as session:
        subs = session.execute(
            select(WebhookSubscription.id, WebhookSubscription.issuer_id, WebhookSubscription.events).where(
                WebhookSubscription.active.is_(True)
            )
        ).all()
        by_issuer: dict[int, list[int]] = {}
        for sub_id, issuer_id, events in subs:
            if "award.expired" in (events or ()):
                by_issuer.setdefault(issuer_id, []).append(sub_id)
        from hub.badges.models import BadgeClass

        for issuer_id, sub_ids in by_issuer.items():
            expired = session.scalars(
                select(Assertion)
                .join(BadgeClass, BadgeClass.id == Assertion.badge_class_id)
                .where(
                    BadgeClass.issuer_id == issuer_id,
                    Assertion.revoked.is_(False),
                    Assertion.expires.is_not(None),
                    Assertion.expires <= now,
                    Assertion.expires > now - timedelta(days=EXPIRED_LOOKBACK_DAYS),
                )
            ).all()
            for assertion in expired:
                key = f"award.expired:{assertion.public_id}"
                told = set(
                    session.scalars(
                        select(WebhookDelivery.subscription_id).where(
                            WebhookDelivery.dedup_key.in_([f"{key}:{s}" for s in sub_ids])
                        )
                    )
                )
                todo = [s for s in sub_ids if s not in told]
                if todo:
                    written += emit(
                        session,
                        ctx,
                        issuer_id,
                        "award.expired",
                        award_data(ctx, assertion),
                        order_key=assertion.public_id,
                        dedup_key=key,
                        subscription_ids=todo,
                    )
    return written


def send_test(session: Session, ctx: HubContext, sub: WebhookSubscription) -> WebhookDelivery:
    """Write a ``webhook.test`` delivery for ``sub`` (sent by the runner like any other)."""
    emit(
        session,
        ctx,
        sub.issuer_id,
        TEST_EVENT,
        {"subscription": sub.public_id, "message": "test delivery from Badge Hub"},
        subscription_ids=[sub.id],
    )
    return session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id).order_by(WebhookDelivery.id.desc())
    ).first()  # type: ignore[return-value]


def replay(session: Session, ctx: HubContext, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send ``delivery`` again (same ``webhook-id`` and body) as soon as the runner can, with a fresh
    retry window; raises ValidationError for one still pending or sending."""
    if delivery.status in (PENDING, SENDING):
        raise ValidationError(_l("this delivery is still waiting to be sent"), field="delivery")
    now = utcnow()
    delivery.status = PENDING
    delivery.next_attempt_at = now
    delivery.created_at = now
    delivery.attempts = 0
    delivery.last_error = None
    session.flush()
    jobs.wake_after_commit(session, ctx)
    return delivery


jobs.register(DISABLED_MAIL, _disabled_mail, max_attempts=10)


def _expired_job(ctx: HubContext, run: jobs.JobRun) -> None:
    scan_expired(ctx, run)


jobs.register(EXPIRED_SCAN, _expired_job, schedule=jobs.Schedule(_expired_targets))
