"""Operations on outgoing webhook subscriptions (:mod:`hub.outgoing`): subscribe (the ``whsec_``
secret is returned once), change, switch on/off, rotate the secret, delete, test send and replay.
CONFIGURE at the subscription's issuer; each writes its audit entry (never the secret)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from hub.accounts import audit
from hub.accounts.access import CONFIGURE, Principal
from hub.badges.models import Issuer
from hub.context import HubContext
from hub.outgoing import services as outgoing
from hub.outgoing.models import WebhookDelivery, WebhookSubscription

FIELDS = ("url", "description", "events", "active")


def subscribe(
    session: Session,
    ctx: HubContext,
    p: Principal,
    issuer: Issuer,
    *,
    url: str,
    events: Iterable[str],
    description: str | None = None,
) -> tuple[WebhookSubscription, str]:
    """A new subscription of ``issuer``; returns it and its ``whsec_`` secret (shown once; stored
    encrypted with ``HUB_KEY_ENCRYPTION_KEY``).

    Raises:
        NotFound / Forbidden: no CONFIGURE at the issuer.
        ValidationError: as :func:`hub.outgoing.services.check_subscription_url` and
            :func:`hub.outgoing.services.check_events`.
    """
    p.require(issuer.id, CONFIGURE, write=True, what="Issuer")
    secret = outgoing.new_secret()
    sub = WebhookSubscription(
        issuer_id=issuer.id,
        url=outgoing.check_subscription_url(ctx, url),
        events=outgoing.check_events(events),
        description=(description or "").strip()[:255] or None,
        secret_encrypted=ctx.box.encrypt(secret.encode("utf-8")),
        active=True,
        consecutive_failures=0,
    )
    session.add(sub)
    session.flush()
    outgoing.forget_cache(session)
    audit.record(
        session,
        p,
        "webhook.subscribe",
        "webhook_subscription",
        sub.public_id,
        issuer_id=issuer.id,
        after=audit.snapshot(sub, FIELDS),
    )
    return sub, secret


def update(session: Session, ctx: HubContext, p: Principal, sub: WebhookSubscription, **changes) -> WebhookSubscription:
    """Change ``url``, ``events``, ``description`` or ``active`` (switching on clears the reason it
    was switched off, and its waiting deliveries go out). Raises as :func:`subscribe`."""
    p.require(sub.issuer_id, CONFIGURE, write=True, what="WebhookSubscription")
    before = audit.snapshot(sub, FIELDS)
    if "url" in changes:
        sub.url = outgoing.check_subscription_url(ctx, changes["url"])
    if "events" in changes:
        sub.events = outgoing.check_events(changes["events"])
    if "description" in changes:
        sub.description = (changes["description"] or "").strip()[:255] or None
    if "active" in changes:
        sub.active = bool(changes["active"])
        if sub.active:
            sub.disabled_reason = sub.disabled_at = None
            sub.consecutive_failures = 0
            from hub import jobs

            jobs.wake_after_commit(session, ctx)
    session.flush()
    outgoing.forget_cache(session)
    audit.record(
        session,
        p,
        "webhook.update",
        "webhook_subscription",
        sub.public_id,
        issuer_id=sub.issuer_id,
        before=before,
        after=audit.snapshot(sub, FIELDS),
    )
    return sub


def rotate_secret(session: Session, ctx: HubContext, p: Principal, sub: WebhookSubscription) -> str:
    """A new ``whsec_`` secret for ``sub`` (returned once); deliveries sign with it from now on."""
    p.require(sub.issuer_id, CONFIGURE, write=True, what="WebhookSubscription")
    secret = outgoing.new_secret()
    sub.secret_encrypted = ctx.box.encrypt(secret.encode("utf-8"))
    session.flush()
    audit.record(session, p, "webhook.rotate_secret", "webhook_subscription", sub.public_id, issuer_id=sub.issuer_id)
    return secret


def delete(session: Session, p: Principal, sub: WebhookSubscription) -> None:
    """Delete a subscription and its delivery log."""
    p.require(sub.issuer_id, CONFIGURE, write=True, what="WebhookSubscription")
    audit.record(
        session,
        p,
        "webhook.delete",
        "webhook_subscription",
        sub.public_id,
        issuer_id=sub.issuer_id,
        before=audit.snapshot(sub, FIELDS),
    )
    session.delete(sub)
    session.flush()
    outgoing.forget_cache(session)


def send_test(session: Session, ctx: HubContext, p: Principal, sub: WebhookSubscription) -> WebhookDelivery:
    """Queue a ``webhook.test`` delivery to ``sub`` (sent by the runner after the commit)."""
    p.require(sub.issuer_id, CONFIGURE, write=True, what="WebhookSubscription")
    delivery = outgoing.send_test(session, ctx, sub)
    audit.record(session, p, "webhook.test", "webhook_subscription", sub.public_id, issuer_id=sub.issuer_id)
    return delivery


def replay(session: Session, ctx: HubContext, p: Principal, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivered or failed delivery again (same ``webhook-id`` and body).

    Raises:
        ValidationError: it is still pending or being sent."""
    p.require(delivery.issuer_id, CONFIGURE, write=True, what="WebhookDelivery")
    outgoing.replay(session, ctx, delivery)
    audit.record(session, p, "webhook.replay", "webhook_delivery", delivery.public_id, issuer_id=delivery.issuer_id)
    return delivery
