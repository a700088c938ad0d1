"""Console screens: dashboard, issuers, badge classes, connectors and rules, events, awards, people, audit.

Every listing is narrowed by :func:`hub.web.admin.scoping.scope` and every object is loaded with
:func:`hub.web.admin.scoping.load`, so an issuer's people never see another issuer's rows.
"""

from __future__ import annotations

import json
import logging
from contextlib import contextmanager
from datetime import timedelta
from types import SimpleNamespace

from flask import Response, abort, current_app, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from sqlalchemy import func, select

from hub.accounts.access import AWARD, CONFIGURE, VIEW
from hub.accounts.models import ROLES, AuditEntry, Membership, User
from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.certificates import keys as certificate_keys
from hub.certificates import services as certificates
from hub.certificates import sharing
from hub.connections import services as connections
from hub.connections.models import ConnectorConfig
from hub.context import current_context
from hub.db import utcnow
from hub.errors import HubError, ValidationError
from hub.i18n import lazy as _l
from hub.inbox import services as inbox
from hub.inbox.models import FAILED, STATUSES, InboundEvent
from hub.learners import notifications
from hub.operations import actions
from hub.rules import services as rules
from hub.rules.models import AwardRule
from hub.timefmt import parse_timestamp
from hub.web import db_session
from hub.web.admin import bp, connector_page_url, csvexport, forms, once, principal
from hub.web.admin.badge_form import SAVE, BadgeForm, find_descriptors, page_language
from hub.web.admin.paging import page
from hub.web.admin.scoping import load, scope

log = logging.getLogger(__name__)
DEFAULT_MAPPING = {
    "recipient_email": "user.email",
    "recipient_name": "user.name",
    "event_type": "event",
    "key": "course.id",
    "idempotency_key": "id",
}
DEFAULT_EXAMPLE = {
    "id": "evt-0001",
    "event": "course_completed",
    "course": {"id": "ZGJ-101"},
    "user": {"email": "zofia@example.org", "name": "Zofia Gęślak"},
}


def _failed(exc: HubError, status: int = 422):
    """Flash why a form was refused, in the page's language (``exc.detail`` may be a lazy text); the
    log line stays English (``str(exc)``)."""
    log.info("console %s %s refused (%s): %s", request.method, request.path, exc.slug, exc)
    flash(_("Could not save: %(detail)s", detail=exc.detail), "error")
    return status


@contextmanager
def _saving(message: str | None = None):
    """One form's changes: flush and flash ``message`` when the block succeeds (the request's boundary
    commits, :func:`hub.web.commit_db_session`); on a :class:`HubError` roll back, flash the reason and
    set ``saved.status`` to 422 (the error is handled here, so the page renders again with the form;
    ``saved.error`` is the error, for forms that show it next to a field). Other errors propagate."""
    saved = SimpleNamespace(status=200, failed=False, error=None)
    session = db_session()
    try:
        yield saved
    except HubError as exc:
        session.rollback()
        saved.status, saved.failed, saved.error = _failed(exc), True, exc
        return
    session.flush()
    if message:
        flash(message, "info")


def _issuers(ability: str) -> list[Issuer]:
    return db_session().scalars(badges.list_issuers(scope(principal(), Issuer, ability))).all()


def _jobs():
    return current_app.extensions["hub.jobs"]


# ---- dashboard ------------------------------------------------------------------------------------------


@bp.get("/")
@login_required
def dashboard():
    s, p = db_session(), principal()
    now = utcnow()
    weeks = []
    for n in range(7, -1, -1):
        start, end = now - timedelta(days=7 * (n + 1)), now - timedelta(days=7 * n)
        count = s.scalar(
            select(func.count(Assertion.id))
            .join(BadgeClass, Assertion.badge_class_id == BadgeClass.id)
            .where(scope(p, Assertion, VIEW), Assertion.issued_on >= start, Assertion.issued_on < end)
        )
        weeks.append({"start": start, "count": count or 0})
    peak = max(w["count"] for w in weeks) or 1
    by_status = dict(
        s.execute(
            select(InboundEvent.status, func.count(InboundEvent.id))
            .join(ConnectorConfig, InboundEvent.connector_id == ConnectorConfig.id)
            .where(scope(p, InboundEvent, CONFIGURE))
            .group_by(InboundEvent.status)
        ).all()
    )
    failing = s.execute(
        select(ConnectorConfig, func.count(InboundEvent.id))
        .join(InboundEvent, InboundEvent.connector_id == ConnectorConfig.id)
        .where(
            scope(p, ConnectorConfig, CONFIGURE),
            InboundEvent.status == FAILED,
            InboundEvent.received_at >= now - timedelta(days=7),
        )
        .group_by(ConnectorConfig.id)
        .order_by(func.count(InboundEvent.id).desc())
        .limit(10)
    ).all()
    return render_template(
        "admin/dashboard.html", weeks=weeks, peak=peak, by_status=by_status, statuses=STATUSES, failing=failing
    )


# ---- issuers --------------------------------------------------------------------------------------------


@bp.get("/issuers")
@login_required
def issuers():
    return render_template("admin/issuers.html", issuers=_issuers(VIEW))


@bp.route("/issuers/new", methods=["GET", "POST"])
@login_required
def issuer_new():
    p = principal()
    p.require_site_admin(write=True)
    status = 200
    if request.method == "POST":
        s = db_session()
        with _saving(_("Issuer created.")) as saved:
            issuer = actions.create_issuer(
                s,
                current_context(),
                p,
                name=forms.text("name"),
                url=forms.text("url"),
                email=forms.text("email"),
                description=forms.text("description"),
                image=forms.upload("image"),
            )
            return redirect(url_for("admin.issuer", issuer_id=issuer.public_id))
        status = saved.status
    return render_template("admin/issuer_form.html", issuer=None, form=request.form), status


@bp.route("/issuers/<issuer_id>", methods=["GET", "POST"])
@login_required
def issuer(issuer_id: str):
    s, p = db_session(), principal()
    row = load(s, p, Issuer, issuer_id, VIEW)
    status = 200
    if request.method == "POST":
        with _saving(_("Saved.")) as saved:
            actions.update_issuer(
                s,
                current_context(),
                p,
                row,
                name=forms.text("name"),
                url=forms.text("url"),
                email=forms.text("email"),
                description=forms.text("description"),
                image=forms.upload("image"),
            )
            return redirect(url_for("admin.issuer", issuer_id=row.public_id))
        status = saved.status
    return _issuer_page(row, form=request.form if status != 200 else None, status=status)


def _issuer_page(row: Issuer, *, form=None, status: int = 200, layout_error=None):
    s, p, urls = db_session(), principal(), current_context().urls
    members = s.scalars(select(Membership).where(Membership.issuer_id == row.id).order_by(Membership.id)).all()
    signing = certificate_keys.active_rows(s, row)
    layout = certificates.layout_for(s, row)
    endpoints = [
        (_("Issuer profile (Open Badges 2.0)"), urls.issuer(row.public_id)),
        (_("Revocation list (Open Badges 2.0)"), urls.revocation_list(row.public_id)),
        (_("Issuer DID (Open Badges 3.0)"), urls.issuer_did(row.public_id)),
        (_("DID document with the public keys"), urls.issuer_did_document(row.public_id)),
        (_("Revocation list (1EdTech, Open Badges 3.0)"), urls.revocation_list_1edtech(row.public_id)),
        (_("Verify a PDF certificate"), url_for("certificates.verify_upload", _external=True)),
    ]
    return render_template(
        "admin/issuer_form.html",
        issuer=row,
        form=form,
        can_configure=p.may(row.id, CONFIGURE),
        members=members,
        roles=ROLES,
        endpoints=endpoints,
        signing=certificate_keys.summary(signing[-1]) if signing else None,
        layout=layout,
        layout_error=layout_error,
    ), status


@bp.post("/issuers/<issuer_id>/signing-certificate")
@login_required
def issuer_signing_certificate(issuer_id: str):
    s, p = db_session(), principal()
    row = load(s, p, Issuer, issuer_id, CONFIGURE, write=True)
    upload = request.files.get("pkcs12")
    data = upload.read() if upload is not None and upload.filename else None
    if data is None and request.form.get("action") != "self-issue":
        flash(_("Choose a PKCS#12 file (.p12 or .pfx) to upload."), "error")
        return _issuer_page(row, status=422)
    with _saving(_("PDF certificates are now signed with the new certificate.")) as saved:
        actions.set_signing_certificate(
            s, current_context(), p, row, pkcs12=data, passphrase=request.form.get("passphrase") or None
        )
        return redirect(url_for("admin.issuer", issuer_id=row.public_id))
    return _issuer_page(row, status=saved.status)


@bp.post("/issuers/<issuer_id>/certificate-layout")
@login_required
def issuer_certificate_layout(issuer_id: str):
    s, p = db_session(), principal()
    row = load(s, p, Issuer, issuer_id, CONFIGURE, write=True)
    with _saving(_("Saved.")) as saved:
        actions.set_certificate_layout(
            s,
            p,
            row,
            html=forms.text("template_html"),
            css=forms.text("template_css"),
            bilingual=bool(request.form.get("bilingual")),
        )
        return redirect(url_for("admin.issuer", issuer_id=row.public_id))
    return _issuer_page(row, form=request.form, status=saved.status, layout_error=saved.error)


@bp.post("/issuers/<issuer_id>/rotate-key")
@login_required
def issuer_rotate_key(issuer_id: str):
    s, p = db_session(), principal()
    row = load(s, p, Issuer, issuer_id, CONFIGURE, write=True)
    actions.rotate_issuer_key(s, current_context(), p, row)
    s.flush()
    flash(_("A new signing key is in use; the old one stays published so earlier badges keep verifying."), "info")
    return redirect(url_for("admin.issuer", issuer_id=row.public_id))


@bp.post("/issuers/<issuer_id>/members")
@login_required
def issuer_member(issuer_id: str):
    s, p = db_session(), principal()
    row = load(s, p, Issuer, issuer_id, CONFIGURE, write=True)
    email = (forms.text("email") or "").lower()
    user = s.scalar(select(User).where(User.email == email))
    if user is None:
        flash(_("No user with this e-mail. A site administrator creates accounts."), "error")
    else:
        with _saving(_("Saved.")):
            actions.set_role(s, p, user, row, forms.text("role"))
    return redirect(url_for("admin.issuer", issuer_id=row.public_id))


# ---- badge classes --------------------------------------------------------------------------------------


@bp.get("/badges")
@login_required
def badge_classes():
    s, p = db_session(), principal()
    query = badges.list_badge_classes(scope(p, BadgeClass, VIEW))
    result = page(s, query, BadgeClass, limit=50, cursor=request.args.get("cursor"))
    return render_template("admin/badges.html", page=result)


def _badge_page(badge: BadgeClass | None, form: BadgeForm, status: int = 200, **extra):
    s = db_session()
    if request.method == "POST" and request.files.get("image") and request.files["image"].filename:
        flash(_("Choose the image again before saving: a browser does not send it twice."), "info")
    return render_template(
        "admin/badge_form.html",
        badge=badge,
        form=form,
        missing=form.missing(s, badge),
        levels=[(str(n), str(n)) for n in range(1, 9)],
        **extra,
    ), status


@bp.route("/badges/new", methods=["GET", "POST"])
@login_required
def badge_new():
    s, p = db_session(), principal()
    choices = _issuers(CONFIGURE)
    if not choices:
        abort(403)
    if request.method == "GET":
        return _badge_page(None, BadgeForm.blank(), issuers=choices)
    form = BadgeForm.from_request(s)
    if form.action != SAVE:
        return _badge_page(None, form, issuers=choices)
    with _saving(_("Badge class created.")) as saved:
        try:
            fields, outcomes, micro = form.validated()
            issuer = load(s, p, Issuer, request.form.get("issuer", ""), CONFIGURE, write=True)
            image = forms.upload("image")
            if image is None:
                raise ValidationError(_l("Choose an image (PNG or SVG)."), field="image")
            badge = actions.create_badge_class(s, current_context(), p, issuer, image=image, **fields)
            form.save(s, p, badge, outcomes, micro)
        except HubError as exc:
            form.failed(exc)
            raise
        return redirect(url_for("admin.badge_class", badge_id=badge.public_id))
    return _badge_page(None, form, saved.status, issuers=choices)


@bp.route("/badges/<badge_id>", methods=["GET", "POST"])
@login_required
def badge_class(badge_id: str):
    s, p = db_session(), principal()
    row = load(s, p, BadgeClass, badge_id, VIEW)
    extra = {"can_configure": p.may(row.issuer_id, CONFIGURE), "can_award": p.may(row.issuer_id, AWARD)}
    if request.method == "GET":
        return _badge_page(row, BadgeForm.from_badge(s, row), **extra)
    load(s, p, BadgeClass, badge_id, CONFIGURE, write=True)
    form = BadgeForm.from_request(s)
    if form.action != SAVE:
        return _badge_page(row, form, **extra)
    with _saving(_("Saved.")) as saved:
        try:
            fields, outcomes, micro = form.validated()
            actions.update_badge_class(s, current_context(), p, row, image=forms.upload("image"), **fields)
            form.save(s, p, row, outcomes, micro)
        except HubError as exc:
            form.failed(exc)
            raise
        return redirect(url_for("admin.badge_class", badge_id=row.public_id))
    return _badge_page(row, form, saved.status, **extra)


@bp.get("/descriptors")
@login_required
def descriptors():
    """Descriptor search for the badge form's script: ``?q=`` -> ``{"items": [{"ref", "code", "label",
    "framework"}]}``, labels in the page's language (at most 20)."""
    query = (request.args.get("q") or "").strip()
    try:
        items = find_descriptors(db_session(), query, page_language()) if query else []
    except ValidationError:
        items = []
    return {"items": items}


# ---- connectors and rules -------------------------------------------------------------------------------


@bp.get("/connectors")
@login_required
def connectors_list():
    s, p = db_session(), principal()
    rows = s.scalars(connections.list_connectors(scope(p, ConnectorConfig, CONFIGURE))).all()
    return render_template("admin/connectors.html", connectors=rows)


@bp.route("/connectors/new", methods=["GET", "POST"])
@login_required
def connector_new():
    s, p = db_session(), principal()
    choices = _issuers(CONFIGURE)
    if not choices and not p.site_admin:
        abort(403)
    status = 200
    if request.method == "POST":
        with _saving(_("Connector created.")) as saved:
            issuer_id = request.form.get("issuer") or ""
            issuer = load(s, p, Issuer, issuer_id, CONFIGURE, write=True) if issuer_id else None
            config = {
                "mapping": forms.json_field("mapping", {}),
                "example": forms.json_field("example", None),
            }
            row, secret = actions.create_connector(
                s,
                current_context(),
                p,
                issuer=issuer,
                slug=forms.text("slug") or "",
                kind="webhooks",
                name=forms.text("name") or "",
                config=config,
            )
            once.keep(_secret_name(row), secret)
            return redirect(url_for("admin.connector", connector_id=row.public_id))
        status = saved.status
    form = request.form or {
        "mapping": json.dumps(DEFAULT_MAPPING, indent=2),
        "example": json.dumps(DEFAULT_EXAMPLE, indent=2, ensure_ascii=False),
    }
    return render_template("admin/connector_new.html", issuers=choices, form=form), status


def _connector_page(row: ConnectorConfig, *, new_secret: str | None = None, dry=None, status: int = 200):
    s, p, ctx = db_session(), principal(), current_context()
    rule_rows = s.scalars(rules.list_rules(connector_id=row.id)).all()
    badge_choices = s.scalars(
        badges.list_badge_classes(
            scope(p, BadgeClass, CONFIGURE), issuer_id=row.issuer_id if row.issuer_id is not None else None
        )
    ).all()
    recent = s.scalars(inbox.list_events(connector_id=row.id).limit(20)).all()
    example = json.dumps(row.config.get("example") or DEFAULT_EXAMPLE, ensure_ascii=False)
    return render_template(
        "admin/connector.html",
        connector=row,
        rules=rule_rows,
        badge_choices=badge_choices,
        recent=recent,
        new_secret=new_secret,
        secret_count=len(connections.connector_secrets(ctx, row)),
        hook_url=f"{ctx.urls.base}/hooks/{row.slug}",
        example=example,
        dry=dry,
        mapping=json.dumps(row.config.get("mapping", {}), indent=2, ensure_ascii=False),
        example_pretty=json.dumps(row.config.get("example"), indent=2, ensure_ascii=False)
        if row.config.get("example") is not None
        else "",
    ), status


def _connector(connector_id: str, *, write: bool = False) -> ConnectorConfig:
    row = load(db_session(), principal(), ConnectorConfig, connector_id, CONFIGURE, write=write)
    if row.issuer_id is None:
        principal().require_site_admin(write=write)
    return row


def _secret_name(row: ConnectorConfig) -> str:
    return f"connector-secret:{row.public_id}"


@bp.get("/connectors/<connector_id>")
@login_required
def connector(connector_id: str):
    """The connector's page; shows a secret just made (on create or rotate) once (:mod:`hub.web.admin.once`)."""
    row = _connector(connector_id)
    return _connector_page(row, new_secret=once.take(_secret_name(row)))


@bp.post("/connectors/<connector_id>")
@login_required
def connector_update(connector_id: str):
    s, p = db_session(), principal()
    row = _connector(connector_id, write=True)
    with _saving(_("Saved.")):
        config = {"mapping": forms.json_field("mapping", {}), "example": forms.json_field("example", None)}
        actions.update_connector(
            s, p, row, name=forms.text("name") or row.slug, config=config, enabled=forms.checked("enabled")
        )
    return redirect(url_for("admin.connector", connector_id=row.public_id))


@bp.post("/connectors/<connector_id>/rotate")
@login_required
def connector_rotate(connector_id: str):
    s, p = db_session(), principal()
    row = _connector(connector_id, write=True)
    secret = actions.rotate_connector_secret(s, current_context(), p, row)
    s.flush()
    once.keep(_secret_name(row), secret)
    flash(_("New secret made. The previous one keeps working until you end the rotation."), "info")
    return redirect(url_for("admin.connector", connector_id=row.public_id))


@bp.post("/connectors/<connector_id>/end-rotation")
@login_required
def connector_end_rotation(connector_id: str):
    s, p = db_session(), principal()
    row = _connector(connector_id, write=True)
    actions.end_rotation(s, current_context(), p, row)
    s.flush()
    flash(_("Only the newest secret is accepted now."), "info")
    return redirect(url_for("admin.connector", connector_id=row.public_id))


@bp.post("/connectors/<connector_id>/test")
@login_required
def connector_test(connector_id: str):
    s, p = db_session(), principal()
    row = _connector(connector_id, write=True)
    try:
        event = actions.send_test_event(s, p, row, forms.text("body"))
    except HubError as exc:
        s.rollback()
        _failed(exc)
        return redirect(url_for("admin.connector", connector_id=row.public_id))
    s.commit()
    _jobs().enqueue(event.id)
    flash(_("Test event sent."), "info")
    return redirect(url_for("admin.event", event_id=event.public_id))


@bp.post("/connectors/<connector_id>/rules")
@login_required
def rule_create(connector_id: str):
    s, p = db_session(), principal()
    row = _connector(connector_id, write=True)
    with _saving(_("Rule added.")):
        badge = load(s, p, BadgeClass, request.form.get("badge_class", ""), CONFIGURE, write=True)
        actions.create_rule(
            s,
            p,
            row,
            badge,
            event_type=forms.text("event_type") or "",
            key=forms.text("key"),
            condition=forms.text("condition"),
        )
    return redirect(connector_page_url(row))


@bp.post("/rules/<rule_id>")
@login_required
def rule_update(rule_id: str):
    s, p = db_session(), principal()
    rule = load(s, p, AwardRule, rule_id, CONFIGURE, write=True)
    back = connector_page_url(rule.connector)  # the connector's own page (webhook, Moodle site, ...)
    if request.form.get("action") == "delete":
        actions.delete_rule(s, p, rule)
        flash(_("Rule deleted."), "info")
    else:
        actions.set_rule_enabled(s, p, rule, request.form.get("action") == "enable")
        flash(_("Saved."), "info")
    s.flush()
    return redirect(back)


@bp.post("/connectors/<connector_id>/dry-run")
@login_required
def connector_dry_run(connector_id: str):
    """Which badges would a stored event of this connector earn under today's rules?"""
    s, p = db_session(), principal()
    row = _connector(connector_id)
    event = load(s, p, InboundEvent, request.form.get("event", ""), CONFIGURE)
    if event.connector_id != row.id:
        abort(404)
    return _connector_page(row, dry=_dry_run(event))


def _dry_run(event: InboundEvent) -> dict:
    try:
        learning, earned = inbox.dry_run(db_session(), event)
    except HubError as exc:
        return {"event": event, "error": exc.detail}
    return {"event": event, "learning": learning, "badges": earned}


# ---- events ---------------------------------------------------------------------------------------------


@bp.get("/events")
@login_required
def events():
    s, p = db_session(), principal()
    status = request.args.get("status") or None
    connector_id = None
    connectors_rows = s.scalars(connections.list_connectors(scope(p, ConnectorConfig, CONFIGURE))).all()
    if slug := request.args.get("connector"):
        connector_id = next((c.id for c in connectors_rows if c.slug == slug), -1)
    try:
        since = parse_timestamp(request.args["since"] + "T00:00:00Z") if request.args.get("since") else None
        until = (
            parse_timestamp(request.args["until"] + "T00:00:00Z") + timedelta(days=1)
            if request.args.get("until")
            else None
        )
    except (ValueError, HubError):
        since = until = None
        flash(_("Dates must look like 2025-01-31."), "error")
    query = inbox.list_events(
        scope(p, InboundEvent, CONFIGURE),
        status=status if status in STATUSES else None,
        connector_id=connector_id,
        since=since,
        until=until,
    )
    result = page(s, query, InboundEvent, limit=50, cursor=request.args.get("cursor"))
    return render_template(
        "admin/events.html", page=result, statuses=STATUSES, connectors=connectors_rows, args=request.args
    )


@bp.get("/events/<event_id>")
@login_required
def event(event_id: str):
    row = load(db_session(), principal(), InboundEvent, event_id, CONFIGURE)
    try:
        pretty = json.dumps(json.loads(row.body), indent=2, ensure_ascii=False)
    except ValueError:
        pretty = row.body
    awards = db_session().scalars(select(Assertion).where(Assertion.source_event_id == row.id)).all()
    dry = _dry_run(row) if request.args.get("dry") else None
    return render_template("admin/event.html", event=row, body=pretty, awards=awards, dry=dry)


@bp.post("/events/replay")
@login_required
def events_replay():
    """Replay one or many events (form field ``event``, repeated)."""
    s, p = db_session(), principal()
    ids = request.form.getlist("event")
    rows = [load(s, p, InboundEvent, i, CONFIGURE, write=True) for i in ids]
    done = []
    for row in rows:
        try:
            actions.replay_event(s, p, row)
            done.append(row.id)
        except HubError as exc:
            _failed(exc)
    s.commit()
    for event_id in done:
        _jobs().enqueue(event_id)
    if not ids:
        flash(_("Tick the events to replay first."), "error")
    elif done:
        flash(ngettext("%(num)s event queued again.", "%(num)s events queued again.", len(done)), "info")
    if len(ids) == 1:
        return redirect(url_for("admin.event", event_id=ids[0]))
    return redirect(
        request.form.get("back") if (request.form.get("back") or "").startswith("/admin") else url_for("admin.events")
    )


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
        _failed(exc)
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
    with _saving(_("The badge is revoked.")):
        actions.revoke(s, current_context(), p, row, forms.text("reason") or "")
    return redirect(url_for("admin.award", assertion_id=row.public_id))


# ---- people and audit -----------------------------------------------------------------------------------


@bp.get("/users")
@login_required
def users():
    s, p = db_session(), principal()
    query = select(User).order_by(User.email)
    if not p.site_admin:
        ids = p.issuer_ids(CONFIGURE) or set()
        query = query.join(Membership).where(Membership.issuer_id.in_(ids)).distinct()
    return render_template("admin/users.html", users=s.scalars(query).all())


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def user_new():
    s, p = db_session(), principal()
    p.require_site_admin(write=True)
    status = 200
    if request.method == "POST":
        with _saving(_("User created.")) as saved:
            actions.create_user(
                s,
                p,
                email=forms.text("email") or "",
                password=request.form.get("password", ""),
                name=forms.text("name"),
                site_admin=forms.checked("site_admin"),
                locale=forms.text("locale"),
            )
            return redirect(url_for("admin.users"))
        status = saved.status
    return render_template("admin/user_new.html", form=request.form), status


@bp.post("/users/<user_id>/active")
@login_required
def user_active(user_id: str):
    s, p = db_session(), principal()
    p.require_site_admin(write=True)
    user = s.scalar(select(User).where(User.public_id == user_id))
    if user is None:
        abort(404)
    with _saving():
        actions.set_user_active(s, p, user, forms.checked("active"))
    return redirect(url_for("admin.users"))


@bp.get("/audit")
@login_required
def audit_log():
    s, p = db_session(), principal()
    query = select(AuditEntry).order_by(AuditEntry.id.desc())
    if not p.site_admin:
        query = query.where(p.scope_filter(AuditEntry.issuer_id, CONFIGURE))
    before = request.args.get("before", type=int)
    if before:
        query = query.where(AuditEntry.id < before)
    rows = s.scalars(query.limit(101)).all()
    return render_template("admin/audit.html", entries=rows[:100], next=rows[99].id if len(rows) > 100 else None)
