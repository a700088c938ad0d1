"""Console screens of webhook connectors, their award rules and their events (with dry run, test event
and replay)."""

from __future__ import annotations

import json
from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import login_required
from sqlalchemy import select

from hub.accounts.access import CONFIGURE
from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.connections import services as connections
from hub.connections.models import ConnectorConfig
from hub.context import current_context
from hub.errors import HubError
from hub.inbox import services as inbox
from hub.inbox.models import STATUSES, InboundEvent
from hub.operations import actions
from hub.rules import services as rules
from hub.rules.models import AwardRule
from hub.timefmt import parse_timestamp
from hub.web import db_session
from hub.web.admin import bp, connector_page_url, forms, once, principal
from hub.web.admin.common import failed, issuers_for, saving
from hub.web.admin.paging import page
from hub.web.admin.scoping import load, scope

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
    choices = issuers_for(CONFIGURE)
    if not choices and not p.site_admin:
        abort(403)
    status = 200
    if request.method == "POST":
        with saving(_("Connector created.")) as saved:
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
    with saving(_("Saved.")):
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
        event = actions.send_test_event(s, current_context(), p, row, forms.text("body"))
    except HubError as exc:
        s.rollback()
        failed(exc)
        return redirect(url_for("admin.connector", connector_id=row.public_id))
    flash(_("Test event sent."), "info")
    return redirect(url_for("admin.event", event_id=event.public_id))


@bp.post("/connectors/<connector_id>/rules")
@login_required
def rule_create(connector_id: str):
    s, p = db_session(), principal()
    row = _connector(connector_id, write=True)
    with saving(_("Rule added.")):
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
            with s.begin_nested():
                actions.replay_event(s, current_context(), p, row)
            done.append(row.id)
        except HubError as exc:
            failed(exc)
    if not ids:
        flash(_("Tick the events to replay first."), "error")
    elif done:
        flash(ngettext("%(num)s event queued again.", "%(num)s events queued again.", len(done)), "info")
    if len(ids) == 1:
        return redirect(url_for("admin.event", event_id=ids[0]))
    return redirect(
        request.form.get("back") if (request.form.get("back") or "").startswith("/admin") else url_for("admin.events")
    )
