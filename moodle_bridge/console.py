"""Console screens for Moodle sites, mounted by the hub at ``/admin/moodle`` (the connector contract,
:meth:`connectors.base.Connector.console_blueprint`): the hub adds the CSRF check, the language and the
console's security headers. Services are in :mod:`moodle_bridge.sites`; this module reads forms and
renders pages.

Routes: ``/`` sites, ``/new`` add a site, ``/<connector_id>`` a site's page (settings, connection check,
"Sync now" with progress, per-course sync state, rules, the plugin's settings, recent events).
"""

from __future__ import annotations

import re

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from hub.accounts.access import CONFIGURE, current_principal, not_found
from hub.badges import services as badges
from hub.badges.models import BadgeClass
from hub.context import current_context
from hub.errors import HubError, NotFound, ValidationError
from hub.i18n import lazy as _l
from hub.rules import services as rules
from moodle_bridge import sites
from moodle_bridge.client import COMPETENCY_FUNCTIONS, REQUIRED_FUNCTIONS
from moodle_bridge.web import db_session

bp = Blueprint("moodle", __name__, template_folder="templates")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


def _read_form(*, creating: bool) -> tuple[dict, dict[str, str]]:
    """The site form's values (typed) and per-field error messages (translated)."""
    form, errors = request.form, {}
    values: dict = {"name": (form.get("name") or "").strip(), "token": (form.get("token") or "").strip()}
    if not values["name"]:
        errors["name"] = _("Give the site a name.")
    elif len(values["name"]) > 255:
        errors["name"] = _("At most 255 characters.")
    slug = (form.get("slug") or "").strip()
    if creating and slug and not _SLUG.match(slug):
        errors["slug"] = _("Use lower-case letters, digits and hyphens (at most 64).")
    values["slug"] = slug or None
    if creating and not values["token"]:
        errors["token"] = _("Paste the web service token from Moodle.")
    elif values["token"] and (len(values["token"]) > 255 or re.search(r"\s", values["token"])):
        errors["token"] = _("A token has no spaces and at most 255 characters.")
    url = (form.get("site_url") or "").strip().rstrip("/")
    if not re.match(r"^https?://[^/\s?#]+(/[^\s?#]*)?$", url):
        errors["site_url"] = _("Enter the site's address, e.g. https://moodle.example.edu")
    ids_text = form.get("course_ids") or ""
    parts = [p for p in re.split(r"[\s,;]+", ids_text) if p]
    if not all(p.isdigit() and len(p) < 10 for p in parts):
        errors["course_ids"] = _("Course ids are numbers, separated by commas or spaces.")
    idnumbers = [line.strip() for line in re.split(r"[\n,;]+", form.get("course_idnumbers") or "") if line.strip()]
    if any(len(i) > 100 for i in idnumbers):
        errors["course_idnumbers"] = _("An ID number has at most 100 characters.")
    if not parts and not idnumbers and "course_ids" not in errors:
        errors["course_ids"] = _("Map at least one course: its id or its ID number.")
    page_size = (form.get("page_size") or "200").strip()
    if not (page_size.isdigit() and 1 <= int(page_size) <= 5000):
        errors["page_size"] = _("A whole number from 1 to 5000.")
    values["config"] = {
        "site_url": url,
        "course_ids": [int(p) for p in parts if p.isdigit()],
        "course_idnumbers": idnumbers,
        "competencies": bool(form.get("competencies")),
        "page_size": int(page_size) if page_size.isdigit() else 200,
    }
    return values, errors


#: Form fields a service's refusal can be shown next to (others go under the whole form).
FORM_FIELDS = ("name", "slug", "token", "site_url", "course_ids", "course_idnumbers", "page_size")


def _field_error(exc: HubError) -> dict[str, str]:
    """A service's refusal as a message next to its field, in the reader's language."""
    field = exc.extra.get("field") if isinstance(exc, ValidationError) else None
    if isinstance(exc, sites.SiteAddressTaken):  # the service's message names the other site
        return {"site_url": str(exc.detail)}
    known = {
        "slug": _("This short name is taken; choose another."),
        "token": _("A token has no spaces and at most 255 characters."),
    }
    message = (known.get(field) if isinstance(field, str) else None) or _(
        "Moodle settings refused: %(detail)s", detail=exc.detail
    )
    return {field if field in FORM_FIELDS else "config": message}


def _issuer_choices():
    return sites.issuers_to_configure(db_session(), current_principal())


@bp.get("/")
@login_required
def index():
    s, p = db_session(), current_principal()
    rows = sites.list_sites(s, p)
    runs = {row.id: sites.latest_run(s, row) for row in rows}
    can_add = p.site_admin or bool(_issuer_choices())
    return render_template("moodle/sites.html", sites=rows, runs=runs, can_add=can_add)


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    s, p = db_session(), current_principal()
    choices = _issuer_choices()
    if not choices and not p.site_admin:
        abort(403)
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, errors = _read_form(creating=True)
        issuer_id = request.form.get("issuer") or ""
        issuer = next((i for i in choices if i.public_id == issuer_id), None)
        if issuer_id and issuer is None:
            raise not_found("Issuer")
        if not errors:
            try:
                row = sites.create_site(
                    s,
                    current_context(),
                    p,
                    issuer=issuer,
                    name=values["name"],
                    token=values["token"],
                    config=values["config"],
                    slug=values["slug"],
                )
                s.flush()
            except ValidationError as exc:
                s.rollback()
                errors = _field_error(exc)
            else:
                flash(_("Moodle site added. Check the connection, then sync."), "info")
                return _back(row)
        flash(_("Please correct the marked fields."), "error")
    form = request.form if request.method == "POST" else {"page_size": "200", "competencies": "on"}
    return render_template("moodle/site_new.html", issuers=choices, form=form, errors=errors), (422 if errors else 200)


def _page(row, *, status: int = 200, errors=None, form=None, check=None, check_error=None, new_secret=None):
    s, p, ctx = db_session(), current_principal(), current_context()
    push = sites.push_connector(s, row)
    run = sites.latest_run(s, row)
    badge_choices = s.scalars(
        badges.list_badge_classes(p.scope_filter(BadgeClass.issuer_id, CONFIGURE), issuer_id=row.issuer_id)
    ).all()
    config = row.config or {}
    return render_template(
        "moodle/site.html",
        site=row,
        config=config,
        push=push,
        push_url=f"{ctx.urls.base}/hooks/{push.slug}" if push else None,
        push_rules=s.scalars(rules.list_rules(connector_id=push.id)).all() if push else [],
        candidates=sites.push_candidates(s, row) if push is None else [],
        new_secret=new_secret,
        run=run,
        abandoned=run is not None and sites.is_abandoned(run),
        states=sites.course_states(s, row),
        rules=s.scalars(rules.list_rules(connector_id=row.id)).all(),
        badge_choices=badge_choices,
        events=sites.recent_events(s, [row, push] if push else [row]),
        check=check,
        check_error=check_error,
        errors=errors or {},
        form=form,
        functions=REQUIRED_FUNCTIONS + (COMPETENCY_FUNCTIONS if config.get("competencies", True) else ()),
    ), status


def _back(row):
    return redirect(url_for("moodle.site", connector_id=row.public_id))


def _site(connector_id: str, *, write: bool = False):
    return sites.load_site(db_session(), current_principal(), connector_id, write=write)


@bp.get("/<connector_id>")
@login_required
def site(connector_id: str):
    return _page(_site(connector_id))


@bp.post("/<connector_id>")
@login_required
def update(connector_id: str):
    s, p = db_session(), current_principal()
    row = _site(connector_id, write=True)
    values, errors = _read_form(creating=False)
    if not errors:
        try:
            sites.update_site(
                s,
                current_context(),
                p,
                row,
                name=values["name"],
                config=values["config"],
                enabled=bool(request.form.get("enabled")),
                token=values["token"] or None,
            )
            s.flush()
        except ValidationError as exc:
            s.rollback()
            errors = _field_error(exc)
        else:
            flash(_("Saved. A new token is in use at once.") if values["token"] else _("Saved."), "info")
            return _back(row)
    flash(_("Please correct the marked fields."), "error")
    return _page(row, status=422, errors=errors, form=request.form)


@bp.post("/<connector_id>/check")
@login_required
def check(connector_id: str):
    """Ask the site's web service who the token is and what it offers (network; no transaction held)."""
    row = _site(connector_id, write=True)
    try:
        target = sites.check_target(current_context(), row)
        db_session().rollback()  # hold no transaction (SQLite: no write lock) while Moodle answers
        result = sites.check_site(target)
    except HubError as exc:
        return _page(row, check_error=exc)
    return _page(row, check=result)


@bp.post("/<connector_id>/sync")
@login_required
def sync(connector_id: str):
    s, p = db_session(), current_principal()
    row = _site(connector_id, write=True)
    try:
        sites.start_sync(s, current_context(), p, row)
        s.flush()
    except HubError as exc:
        s.rollback()
        messages = {
            "moodle-sync-running": _("A sync of this site is already running."),
            "moodle-site-not-ready": _("The site cannot sync yet: %(detail)s", detail=exc.detail),
        }
        flash(messages.get(exc.slug) or str(exc.detail), "error")
        return _back(row)
    flash(_("Sync started."), "info")
    return _back(row)


@bp.post("/<connector_id>/sync/stop")
@login_required
def stop(connector_id: str):
    s, p = db_session(), current_principal()
    row = _site(connector_id, write=True)
    found = sites.request_stop(s, p, row)
    s.flush()
    flash(_("The sync stops after the current page.") if found else _("No sync is running."), "info")
    return _back(row)


@bp.get("/<connector_id>/sync/progress")
@login_required
def progress(connector_id: str):
    """The latest run for the console's progress bar (``admin.js`` polls ``status``/``done``/``total``
    while ``status`` is queued or running, then reloads the page)."""
    row = _site(connector_id)
    doc = sites.run_json(sites.latest_run(db_session(), row)) or {"status": "done", "done": 0, "total": 0}
    if doc["status"] not in ("queued", "running", "failed"):
        doc = {**doc, "state": doc["status"], "status": "done"}
    return jsonify(doc)


@bp.post("/<connector_id>/push")
@login_required
def push(connector_id: str):
    """Create the plugin's webhook connector (secret shown once), or link/unlink an existing one."""
    s, p = db_session(), current_principal()
    row = _site(connector_id, write=True)
    action = request.form.get("action")
    if action == "create":
        connector, secret = sites.create_push_connector(
            s, current_context(), p, row, name=_("%(site)s (plugin)", site=row.name)
        )
        s.flush()
        flash(_("Webhook connector %(slug)s created for the plugin.", slug=connector.slug), "info")
        return _page(row, new_secret=secret)
    sites.link_push_connector(s, p, row, request.form.get("connector") if action == "link" else None)
    s.flush()
    flash(_("Saved."), "info")
    return _back(row)


@bp.post("/<connector_id>/push/rules")
@login_required
def push_rules(connector_id: str):
    s, p = db_session(), current_principal()
    row = _site(connector_id, write=True)
    target = sites.push_connector(s, row)
    if target is None:
        raise NotFound(_l("the site has no push connector"))
    added = sites.copy_rules(s, p, row, target)
    s.flush()
    flash(_("%(n)s rules copied to the push connector.", n=added), "info")
    return _back(row)


def nav() -> list[tuple[str, str]]:
    """The console menu entry (translated per request), for people who configure an issuer."""
    try:
        p = current_principal()
    except HubError:  # not signed in (the sign-in page)
        return []
    if not (p.site_admin or p.issuer_ids(CONFIGURE)):
        return []
    return [(_("Moodle sites"), "moodle.index")]


__all__ = ["bp", "nav"]
