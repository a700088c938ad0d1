"""Console screens for LTI platforms (blueprint ``lti_console``, mounted by the hub at ``/admin/lti``):
the registrations with what waits for approval, the dynamic registration URL and the tool's URLs, the
manual registration form, one registration (deployments, courses and their badges), tool key rotation.

Site administrators only: lists and forms answer 403 to others, pages naming a registration 404. The hub
gives these views the console's CSRF check, language, security headers and
:func:`hub.accounts.access.current_principal` (:meth:`connectors.base.Connector.console_blueprint`).
Every change goes through :mod:`connectors.lti.actions` (audit log).
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from hub.accounts.access import CONFIGURE, Principal, current_principal
from hub.badges.models import Issuer
from hub.connections.models import ConnectorConfig
from hub.context import current_context, request_session
from hub.errors import Unauthorized, ValidationError

from . import actions, framing
from . import registrations as regs
from . import services as svc
from .dynreg import tool_configuration
from .launch import problem_key
from .models import ACTIVE, INACTIVE, PENDING, LtiContext, LtiDeployment, LtiRegistration
from .store import make_store

console_bp = Blueprint(
    "lti_console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
PAGE_SIZE = 50
MAX_OVERLAP_DAYS = 365
#: The manual registration form: field -> (label, required, is a URL, longest value).
FIELDS = {
    "name": (_l("Platform name"), False, False, 255),
    "issuer": (_l("Issuer (iss)"), True, True, 1024),
    "client_id": (_l("Client id"), True, False, 255),
    "auth_login_url": (_l("Authentication (OIDC login) URL"), True, True, 1024),
    "auth_token_url": (_l("Access token URL"), True, True, 1024),
    "key_set_url": (_l("Public key set (JWKS) URL"), True, True, 1024),
    "auth_audience": (_l("Token audience"), False, False, 1024),
}


def nav() -> list[tuple[str, str]]:
    """The console menu entry, for site administrators only."""
    try:
        principal = current_principal()
    except Unauthorized:
        return []
    return [(_("LTI platforms"), "lti_console.registrations")] if actions.can_view(principal) else []


def _admin() -> Principal:
    """The signed-in site administrator. Raises Forbidden for anyone else."""
    principal = current_principal()
    principal.require_site_admin()
    return principal


def _back(default: str) -> str:
    """The form's ``next`` when it is one of these screens, else ``default``."""
    target = request.form.get("next") or ""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(url_for("lti_console.registrations")):
        return default
    return target


@contextmanager
def _change(message: str):
    """One console change in the request's session (committed at the request boundary), then forget the
    kept framing origins and flash
    ``message``; a refused change (:class:`ValidationError`) rolls back and flashes its reason. Not found
    and forbidden propagate (404/403)."""
    session = request_session()
    try:
        yield session
    except ValidationError as exc:
        session.rollback()
        flash(_("Could not save: %(detail)s", detail=exc.detail), "error")
        return
    framing.forget_after_commit(session, current_app._get_current_object())
    flash(message, "info")


def _render(template: str, status: int = 200, **values):
    """Render ``template`` with the tool's URLs and published keys, which every screen shows."""
    html = render_template(
        template,
        tool=tool_configuration(current_context().settings.base_url),
        keys=regs.published_keys(request_session()),
        last_launch=regs.last_launch,
        issuers=request_session().scalars(select(Issuer).order_by(Issuer.name, Issuer.id)).all(),
        **values,
    )
    return html, status


# ---- screens -------------------------------------------------------------------------------------------


@console_bp.get("/")
@login_required
def registrations():
    """Every registration (keyset pages, newest first), and what waits for approval."""
    _admin()
    session = request_session()
    try:
        rows, nxt = regs.list_registrations(session, limit=PAGE_SIZE, cursor=request.args.get("cursor") or None)
    except ValidationError:
        abort(404)
    pending = session.scalars(
        select(LtiRegistration)
        .where(LtiRegistration.status == PENDING)
        .order_by(LtiRegistration.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    waiting = session.scalars(
        select(LtiDeployment)
        .join(LtiRegistration)
        .where(LtiDeployment.status == PENDING, LtiRegistration.status != PENDING)
        .order_by(LtiDeployment.id.desc())
        .limit(PAGE_SIZE)
    ).all()
    return _render(
        "lti/console/registrations.html",
        rows=rows,
        next_cursor=nxt,
        pending_registrations=pending,
        pending_deployments=waiting,
    )


def _save_form(session, errors: dict[str, str], save, message: str):
    """The registration form's unit of work: unless the form already has ``errors``, call ``save()``
    (it returns the registration), forget the kept framing origins after the boundary's commit, flash
    ``message`` and answer a redirect to the registration. Returns ``(redirect or None, errors)``; a
    refusal from the service rolls back and becomes field errors, and any error flashes "Check the marked
    fields"."""
    if not errors:
        try:
            reg = save()
        except ValidationError as exc:
            session.rollback()
            errors = _service_error(exc)
        else:
            framing.forget_after_commit(session, current_app._get_current_object())
            flash(message, "info")
            return redirect(url_for("lti_console.registration", reg_id=reg.public_id)), errors
    flash(_("Check the marked fields."), "error")
    return None, errors


@console_bp.route("/new", methods=["GET", "POST"])
@login_required
def registration_new():
    """Register a platform by hand: field-level errors, the input kept on error."""
    p = _admin()
    session = request_session()
    errors: dict[str, str] = {}
    if request.method == "POST":
        values, errors = _read_form(session)
        saved, errors = _save_form(
            session,
            errors,
            lambda: actions.create_registration(session, current_context(), p, **values),
            _("Platform registered. Enter the tool's URLs in the platform if you have not yet."),
        )
        if saved is not None:
            return saved
    return _render(
        "lti/console/registration_form.html",
        422 if errors else 200,
        form=request.form,
        errors=errors,
        fields=FIELDS,
        reg=None,
        locked=False,
    )


@console_bp.route("/registrations/<reg_id>/edit", methods=["GET", "POST"])
@login_required
def registration_edit(reg_id: str):
    """Change a registration (the manual form's fields and checks; its status stays). The issuer and
    client id are read-only once a course has launched the tool (its awards refer to them)."""
    p = current_principal()
    session = request_session()
    reg = actions.load_registration(session, p, reg_id, write=request.method == "POST")
    locked = regs.has_courses(session, reg)
    errors: dict[str, str] = {}
    form = request.form if request.method == "POST" else _form_of(reg)
    if request.method == "POST":
        values, errors = _read_form(session, reg)

        def save():
            badge_issuer = values.pop("badge_issuer", None)
            if badge_issuer:
                actions.assign_issuer(session, p, reg, badge_issuer)
            actions.update_registration(session, current_context(), p, reg, **values)
            return reg

        saved, errors = _save_form(session, errors, save, _("Registration saved."))
        if saved is not None:
            return saved
    return _render(
        "lti/console/registration_form.html",
        422 if errors else 200,
        form=form,
        errors=errors,
        fields=FIELDS,
        reg=reg,
        locked=locked,
    )


def _form_of(reg: LtiRegistration) -> dict[str, str]:
    """The form's values for a stored registration."""
    values = {name: getattr(reg, name) or "" for name in FIELDS}
    values["deployment_ids"] = "\n".join(d.deployment_id for d in reg.deployments)
    values["badge_issuer"] = reg.badge_issuer.public_id if reg.badge_issuer else ""
    return values


def _service_error(exc: ValidationError) -> dict[str, str]:
    """A service's refusal next to its field (the issuer field when the field is not on the form)."""
    field = exc.extra.get("field")
    return {field if field in FIELDS or field == "badge_issuer" else "issuer": str(exc.detail)}


def _read_form(session, reg: LtiRegistration | None = None) -> tuple[dict, dict[str, str]]:
    """The registration form's values and ``{field: translated message}`` for the wrong ones; ``reg``:
    the registration being changed (it may keep its own issuer and client id)."""
    allow_http = current_context().settings.lti_allow_private_hosts
    values, errors = {}, {}
    for name, (label, required, is_url, longest) in FIELDS.items():
        value = (request.form.get(name) or "").strip()
        problem = regs.url_problem(value, allow_http=allow_http) if is_url and value else None
        if required and not value:
            errors[name] = _("%(field)s is required.", field=label)
        elif problem is not None:
            errors[name] = str(problem)
        elif len(value) > longest:
            errors[name] = _("At most %(n)s characters.", n=longest)
        values[name] = value or None
    ids = [i.strip() for i in (request.form.get("deployment_ids") or "").replace(",", "\n").splitlines()]
    values["deployment_ids"] = [i for i in ids if i]
    if any(len(i) > 255 for i in values["deployment_ids"]):
        errors["deployment_ids"] = _("A deployment id has at most 255 characters.")
    values["badge_issuer"] = (request.form.get("badge_issuer") or "").strip() or None
    if values["badge_issuer"] is None and (reg is None or reg.issuer_id is None):
        errors["badge_issuer"] = str(regs.CHOOSE_ISSUER)
    if reg is not None and regs.has_courses(session, reg):
        for name in ("issuer", "client_id"):
            if values[name] != getattr(reg, name):
                errors[name] = _("This cannot change once courses have used the registration.")
    if not errors:
        found = regs.find_registration(session, values["issuer"], values["client_id"])
        if found is not None and found is not reg:
            errors["client_id"] = _("This platform already has a registration with this client id.")
    return values, errors


@console_bp.get("/registrations/<reg_id>")
@login_required
def registration(reg_id: str):
    """One registration: details, deployments, courses with their badges, the tool key."""
    session = request_session()
    reg = actions.load_registration(session, current_principal(), reg_id)
    query = select(LtiContext).where(LtiContext.registration_id == reg.id).order_by(LtiContext.id.desc())
    try:
        courses, nxt = regs.keyset_page(session, query, LtiContext, limit=PAGE_SIZE, cursor=request.args.get("cursor"))
    except ValidationError:
        abort(404)
    problem = make_store(current_context()).get(problem_key(reg.public_id))  # e.g. an LTI 1.1 consumer key
    if problem:
        problem["when"] = datetime.fromtimestamp(problem["at"], UTC)
    return _render("lti/console/registration.html", reg=reg, courses=courses, next_cursor=nxt, problem=problem)


# ---- changes -------------------------------------------------------------------------------------------


def _status(p: Principal, value: str | None) -> str:
    """The requested status. Access comes first: others get 404, as on any page naming a registration."""
    if not actions.can_view(p):
        abort(404)
    if value not in (ACTIVE, INACTIVE):
        abort(400)
    return value


@console_bp.post("/registrations/<reg_id>/status")
@login_required
def registration_status(reg_id: str):
    """Approve (``status=active``, with ``badge_issuer``: the issuer it belongs to, required unless it has
    one) or deactivate (``status=inactive``) a registration."""
    p = current_principal()
    status = _status(p, request.form.get("status"))
    message = _("Registration approved.") if status == ACTIVE else _("Registration deactivated.")
    with _change(message) as session:
        reg = actions.load_registration(session, p, reg_id, write=True)
        issuer = (request.form.get("badge_issuer") or "").strip() or None
        actions.set_registration_status(session, p, reg, status, badge_issuer=issuer if status == ACTIVE else None)
    return redirect(_back(url_for("lti_console.registration", reg_id=reg_id)))


@console_bp.post("/registrations/<reg_id>/issuer")
@login_required
def registration_issuer(reg_id: str):
    """Assign the registration to another issuer (``badge_issuer``), whatever its state."""
    p = current_principal()
    if not actions.can_view(p):
        abort(404)
    with _change(_("The platform now belongs to the chosen issuer.")) as session:
        reg = actions.load_registration(session, p, reg_id, write=True)
        actions.assign_issuer(session, p, reg, (request.form.get("badge_issuer") or "").strip() or None)
    return redirect(_back(url_for("lti_console.registration", reg_id=reg_id)))


@console_bp.post("/registrations/<reg_id>/reject")
@login_required
def registration_reject(reg_id: str):
    """Delete a pending registration."""
    p = current_principal()
    with _change(_("Registration rejected and deleted.")) as session:
        actions.reject_registration(session, p, actions.load_registration(session, p, reg_id, write=True))
    return redirect(url_for("lti_console.registrations"))


@console_bp.get("/registrations/<reg_id>/delete")
@login_required
def registration_delete_confirm(reg_id: str):
    """What deleting the registration would delete (deployments, courses and their badge links), or why
    it cannot be deleted (active; awards or completion events in its courses), with the button."""
    session = request_session()
    reg = actions.load_registration(session, current_principal(), reg_id)
    return _render("lti/console/registration_delete.html", reg=reg, found=svc.footprint(session, reg))


@console_bp.post("/registrations/<reg_id>/delete")
@login_required
def registration_delete(reg_id: str):
    """Delete an inactive or pending registration (after :func:`registration_delete_confirm`)."""
    p = current_principal()
    session = request_session()
    reg = actions.load_registration(session, p, reg_id, write=True)
    name = reg.name or reg.issuer
    try:
        actions.delete_registration(session, p, reg)
    except ValidationError as exc:
        session.rollback()
        flash(_("Could not delete: %(detail)s", detail=exc.detail), "error")
        return redirect(url_for("lti_console.registration", reg_id=reg_id))
    framing.forget_after_commit(session, current_app._get_current_object())
    flash(_("Registration of %(name)s deleted.", name=name), "info")
    return redirect(url_for("lti_console.registrations"))


@console_bp.post("/deployments/<deployment_id>/status")
@login_required
def deployment_status(deployment_id: str):
    """Approve (``status=active``) or deactivate (``status=inactive``) a deployment."""
    p = current_principal()
    status = _status(p, request.form.get("status"))
    message = _("Deployment approved.") if status == ACTIVE else _("Deployment deactivated.")
    with _change(message) as session:
        dep = actions.load_deployment(session, p, deployment_id, write=True)
        reg_id = dep.registration.public_id
        actions.set_deployment_status(session, p, dep, status)
    return redirect(_back(url_for("lti_console.registration", reg_id=reg_id)))


@console_bp.post("/key/rotate")
@login_required
def key_rotate():
    """Make a new tool key; the old one stays published for the chosen overlap (days; 0 withdraws it now)."""
    p = _admin()
    raw = (request.form.get("overlap_days") or "7").replace(",", ".").strip()
    try:
        days = float(raw)
    except ValueError:
        days = -1.0
    if not 0 <= days <= MAX_OVERLAP_DAYS:
        flash(_("The overlap must be a number of days from 0 to %(n)s.", n=MAX_OVERLAP_DAYS), "error")
        return redirect(_back(url_for("lti_console.registrations")))
    ctx = current_context()
    if days:
        message = _("New tool key made. The previous key stays published during the overlap.")
    else:  # no overlap: the previous key left the key set at once
        message = _(
            "New tool key made. The previous key was withdrawn from the key set at once: messages it signed "
            "no longer verify."
        )
    with _change(message) as session:
        actions.rotate_tool_key(session, ctx, p, timedelta(days=days))
    return redirect(_back(url_for("lti_console.registrations")))


@console_bp.get("/connectors/<connector_id>")
@login_required
def connector(connector_id: str):
    """The console page of an ``lti`` connector row: its registration's page."""
    current_principal().require(None, CONFIGURE, what="connector")
    session = request_session()
    row = session.scalar(
        select(ConnectorConfig).where(ConnectorConfig.public_id == connector_id, ConnectorConfig.kind == "lti")
    )
    reg_id = str((row.config or {}).get("registration") or "") if row is not None else ""
    found = regs.is_public_id(reg_id) and session.scalar(
        select(LtiRegistration.id).where(LtiRegistration.public_id == reg_id)
    )
    if not found:
        abort(404)
    return redirect(url_for("lti_console.registration", reg_id=reg_id))
