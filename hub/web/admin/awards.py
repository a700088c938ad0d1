"""Console screens of awards: search, CSV export, award by hand, re-send the e-mail, revoke."""

from __future__ import annotations

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_login import login_required

from hub.accounts.access import AWARD, VIEW
from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass
from hub.certificates import services as certificates
from hub.certificates import sharing
from hub.context import current_context
from hub.errors import HubError
from hub.learners import notifications
from hub.operations import actions
from hub.web import db_session
from hub.web.admin import bp, csvexport, forms, principal
from hub.web.admin.common import failed, saving
from hub.web.admin.paging import page
from hub.web.admin.scoping import load, scope

# ---- awards ---------------------------------------------------------------------------------------------


def _award_query():
    p = principal()
    badge_id = None
    if request.args.get("badge"):
        badge_id = load(db_session(), p, BadgeClass, request.args["badge"], VIEW).id
    state = request.args.get("state", "")
    return badges.search_assertions(
        scope(p, Assertion, VIEW),
        recipient=request.args.get("q"),
        badge_class_id=badge_id,
        state=state if state in badges.AWARD_STATES else None,
    )


@bp.get("/awards")
@login_required
def awards():
    s, p = db_session(), principal()
    result = page(s, _award_query(), Assertion, limit=50, cursor=request.args.get("cursor"))
    badge_choices = s.scalars(badges.list_badge_classes(scope(p, BadgeClass, VIEW))).all()
    award_choices = [b for b in badge_choices if p.may(b.issuer_id, AWARD)]
    return render_template(
        "admin/awards.html",
        page=result,
        badge_choices=badge_choices,
        award_choices=award_choices,
        args=request.args,
        states=badges.AWARD_STATES,
    )


@bp.get("/awards.csv")
@login_required
def awards_csv():
    """The filtered awards as CSV (:mod:`hub.web.admin.csvexport`: safe from formula injection, UTF-8
    with a byte order mark), streamed in batches (memory stays flat for any number of rows). ``status``
    is the award's live state as its public page tells it (``valid``, ``expired``, ``revoked``)."""
    query = _award_query()
    ctx = current_context()
    session = ctx.db.Session()  # its own session: the response outlives the request's teardown
    header = ["assertion", "url", "badge", "recipient", "name", "issued_on", "expires", "revoked", "reason", "status"]

    def records():
        try:
            for a in session.scalars(query.execution_options(yield_per=500)):
                yield [
                    a.public_id,
                    ctx.urls.assertion(a.public_id),
                    a.badge_class.name,
                    a.recipient_plain,
                    a.recipient_name,
                    a.issued_on.isoformat(),
                    a.expires.isoformat() if a.expires else "",
                    "yes" if a.revoked else "no",
                    a.revocation_reason,
                    sharing.live_status(a),
                ]
        finally:
            session.close()

    return Response(
        stream_with_context(csvexport.stream(header, records())),
        mimetype=csvexport.MIMETYPE,
        headers={"Content-Disposition": 'attachment; filename="awards.csv"'},
    )


@bp.post("/awards")
@login_required
def award_create():
    s, p = db_session(), principal()
    try:
        badge = load(s, p, BadgeClass, request.form.get("badge_class", ""), AWARD, write=True)
        result = actions.award(
            s,
            current_context(),
            p,
            badge,
            email=forms.text("email") or "",
            name=forms.text("name"),
            evidence_url=forms.text("evidence_url"),
            narrative=forms.text("narrative"),
            notify=forms.checked("notify"),
        )
        s.flush()
    except HubError as exc:
        s.rollback()
        failed(exc)
        return redirect(url_for("admin.awards"))
    if not result.created:
        flash(_("This person already has this badge."), "info")
    elif result.mails:
        flash(_("Badge awarded. The recipient is notified by e-mail."), "info")
    else:
        flash(_("Badge awarded."), "info")
    return redirect(url_for("admin.award", assertion_id=result.assertion.public_id))


@bp.get("/awards/<assertion_id>")
@login_required
def award(assertion_id: str):
    s, p = db_session(), principal()
    row = load(s, p, Assertion, assertion_id, VIEW)
    history = notifications.history(s, row)
    return render_template(
        "admin/award.html",
        award=row,
        can_award=p.may(row.badge_class.issuer_id, AWARD),
        public_url=current_context().urls.assertion(row.public_id),
        notifications=history,
        ever_sent=any(n.status == notifications.SENT for n in history),
        undrawable=[f"{c} (U+{ord(c):04X})" for c in certificates.undrawable_characters(s, current_context(), row)],
    )


@bp.post("/awards/<assertion_id>/notification")
@login_required
def award_notify(assertion_id: str):
    """Send the award e-mail (again, if one went out before): a fresh outbox row and claim link, then
    deliver it."""
    s, p = db_session(), principal()
    row = load(s, p, Assertion, assertion_id, AWARD, write=True)
    try:
        queued = actions.resend_notification(s, p, row)
        s.commit()
    except (notifications.ResendRefused, notifications.ResendTooSoon) as exc:
        s.rollback()
        reasons = {
            "revoked": _("The badge is revoked, so its e-mail is not sent again."),
            "no_email": _("The recipient's e-mail address is not on record any more, so nothing can be sent."),
            "too_soon": _(
                "An e-mail about this badge went out less than a minute ago. Try again in %(n)s s.",
                n=exc.extra.get("retry_after"),
            ),
            "daily_limit": _(
                "This e-mail was sent again too many times today. Try again in %(n)s s.", n=exc.extra.get("retry_after")
            ),
        }
        flash(reasons.get(exc.extra.get("reason"), exc.detail), "error")
        return redirect(url_for("admin.award", assertion_id=row.public_id))
    if notifications.deliver(current_context(), [queued.id]):
        if queued.kind == notifications.RESEND:
            flash(_("The e-mail was sent again to %(email)s.", email=row.recipient_plain), "info")
        else:
            flash(_("The e-mail was sent to %(email)s.", email=row.recipient_plain), "info")
    else:
        flash(_("The e-mail is queued; it will be sent when the mail server answers."), "info")
    return redirect(url_for("admin.award", assertion_id=row.public_id))


@bp.post("/awards/<assertion_id>/revoke")
@login_required
def award_revoke(assertion_id: str):
    s, p = db_session(), principal()
    row = load(s, p, Assertion, assertion_id, AWARD, write=True)
    with saving(_("The badge is revoked.")):
        actions.revoke(s, current_context(), p, row, forms.text("reason") or "")
    return redirect(url_for("admin.award", assertion_id=row.public_id))
