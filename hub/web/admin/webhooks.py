"""Console screens of outgoing webhooks (``/admin/webhooks``): an issuer's subscriptions, a new one
(its ``whsec_`` secret shown once, after the redirect: :mod:`hub.web.admin.once`), its delivery log,
test send, replay, switching on and off, secret rotation (:mod:`hub.operations.webhooks`)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from hub.accounts.access import CONFIGURE
from hub.badges.models import Issuer
from hub.context import current_context
from hub.operations import webhooks as hooks
from hub.outgoing.models import EVENT_TYPES, STATUSES, WebhookDelivery, WebhookSubscription
from hub.web import db_session
from hub.web.admin import bp, forms, once, principal
from hub.web.admin.common import issuers_for, saving
from hub.web.admin.paging import page
from hub.web.admin.scoping import load, scope


def _secret_name(sub: WebhookSubscription) -> str:
    return f"webhook-secret:{sub.public_id}"


@bp.route("/webhooks", methods=["GET", "POST"])
@login_required
def webhooks_list():
    s, p = db_session(), principal()
    status = 200
    if request.method == "POST":
        with saving(_("Subscription created.")) as saved:
            issuer = load(s, p, Issuer, request.form.get("issuer") or "", CONFIGURE, write=True)
            sub, secret = hooks.subscribe(
                s,
                current_context(),
                p,
                issuer,
                url=forms.text("url") or "",
                events=request.form.getlist("events"),
                description=forms.text("description"),
            )
            once.keep(_secret_name(sub), secret)
            return redirect(url_for("admin.webhook_page", subscription_id=sub.public_id))
        status = saved.status
    rows = s.scalars(
        select(WebhookSubscription)
        .where(scope(p, WebhookSubscription, CONFIGURE))
        .order_by(WebhookSubscription.id.desc())
    ).all()
    return render_template(
        "admin/webhooks.html",
        subscriptions=rows,
        issuers=issuers_for(CONFIGURE),
        event_types=EVENT_TYPES,
        form=request.form,
    ), status


def _sub(subscription_id: str, *, write: bool = False) -> WebhookSubscription:
    return load(db_session(), principal(), WebhookSubscription, subscription_id, CONFIGURE, write=write)


@bp.get("/webhooks/<subscription_id>")
@login_required
def webhook_page(subscription_id: str):
    s = db_session()
    sub = _sub(subscription_id)
    status = request.args.get("status") or None
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == sub.id)
    if status in STATUSES:
        query = query.where(WebhookDelivery.status == status)
    log = page(
        s, query.order_by(WebhookDelivery.id.desc()), WebhookDelivery, limit=50, cursor=request.args.get("cursor")
    )
    return render_template(
        "admin/webhook.html",
        sub=sub,
        log=log,
        statuses=STATUSES,
        event_types=EVENT_TYPES,
        new_secret=once.take(_secret_name(sub)),
        args=request.args,
    )


@bp.post("/webhooks/<subscription_id>")
@login_required
def webhook_update(subscription_id: str):
    s, p, ctx = db_session(), principal(), current_context()
    sub = _sub(subscription_id, write=True)
    action = request.form.get("action")
    with saving():
        if action == "test":
            hooks.send_test(s, ctx, p, sub)
            flash(_("A test delivery is on its way; see the log below."), "info")
        elif action == "rotate":
            once.keep(_secret_name(sub), hooks.rotate_secret(s, ctx, p, sub))
            flash(_("New secret made; deliveries are signed with it from now on."), "info")
        elif action in ("on", "off"):
            hooks.update(s, ctx, p, sub, active=action == "on")
            flash(_("Switched on.") if action == "on" else _("Switched off."), "info")
        elif action == "delete":
            hooks.delete(s, p, sub)
            flash(_("Subscription deleted."), "info")
            return redirect(url_for("admin.webhooks_list"))
        else:
            hooks.update(
                s,
                ctx,
                p,
                sub,
                url=forms.text("url") or "",
                events=request.form.getlist("events"),
                description=forms.text("description"),
            )
            flash(_("Saved."), "info")
    return redirect(url_for("admin.webhook_page", subscription_id=subscription_id))


@bp.post("/webhooks/deliveries/<delivery_id>/replay")
@login_required
def webhook_replay(delivery_id: str):
    s, p = db_session(), principal()
    delivery = load(s, p, WebhookDelivery, delivery_id, CONFIGURE, write=True)
    sub_id = delivery.subscription.public_id
    with saving(_("The delivery is sent again.")):
        hooks.replay(s, current_context(), p, delivery)
    return redirect(url_for("admin.webhook_page", subscription_id=sub_id))
