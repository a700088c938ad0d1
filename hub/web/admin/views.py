"""Console screens: dashboard, issuers and badge classes (connectors, rules and events:
:mod:`hub.web.admin.connectors`; awards: :mod:`hub.web.admin.awards`; people and the audit log:
:mod:`hub.web.admin.people`).

Every listing is narrowed by :func:`hub.web.admin.scoping.scope` and every object is loaded with
:func:`hub.web.admin.scoping.load`, so an issuer's people never see another issuer's rows.
"""

from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import func, select

from hub.accounts import services as accounts
from hub.accounts.access import AWARD, CONFIGURE, VIEW
from hub.accounts.models import ROLES, Membership
from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.certificates import keys as certificate_keys
from hub.certificates import services as certificates
from hub.connections.models import ConnectorConfig
from hub.context import current_context
from hub.credentials import ob3keys
from hub.db import utcnow
from hub.errors import HubError, ValidationError
from hub.i18n import lazy as _l
from hub.inbox.models import FAILED, STATUSES, InboundEvent
from hub.operations import actions
from hub.web import db_session
from hub.web.admin import bp, forms, principal
from hub.web.admin.badge_form import SAVE, BadgeForm, find_descriptors, page_language
from hub.web.admin.common import issuers_for, saving
from hub.web.admin.paging import page
from hub.web.admin.scoping import load, scope

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
    return render_template("admin/issuers.html", issuers=issuers_for(VIEW))


@bp.route("/issuers/new", methods=["GET", "POST"])
@login_required
def issuer_new():
    p = principal()
    p.require_site_admin(write=True)
    status = 200
    if request.method == "POST":
        s = db_session()
        with saving(_("Issuer created.")) as saved:
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
        with saving(_("Saved.")) as saved:
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


def _issuer_page(row: Issuer, *, form=None, status: int = 200, layout_error=None, credentials_form=None):
    s, p, urls = db_session(), principal(), current_context().urls
    members = s.scalars(select(Membership).where(Membership.issuer_id == row.id).order_by(Membership.id)).all()
    signing = certificate_keys.active_rows(s, row)
    layout = certificates.layout_for(s, row)
    endpoints = [
        (_("Issuer profile (Open Badges 2.0)"), urls.issuer(row.public_id)),
        (_("Revocation list (Open Badges 2.0)"), urls.revocation_list(row.public_id)),
        (_("Issuer DID (Open Badges 3.0)"), ob3keys.issuer_id(s, current_context(), row)),
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
        credentials=ob3keys.settings_json(s, current_context(), row),
        credentials_form=credentials_form,
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
    with saving(_("PDF certificates are now signed with the new certificate.")) as saved:
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
    with saving(_("Saved.")) as saved:
        actions.set_certificate_layout(
            s,
            p,
            row,
            html=forms.text("template_html"),
            css=forms.text("template_css"),
            bilingual=bool(request.form.get("bilingual")),
            ctx=current_context(),
        )
        return redirect(url_for("admin.issuer", issuer_id=row.public_id))
    return _issuer_page(row, form=request.form, status=saved.status, layout_error=saved.error)


@bp.post("/issuers/<issuer_id>/credential-settings")
@login_required
def issuer_credential_settings(issuer_id: str):
    """The issuer's OB 3.0 settings form (:func:`hub.operations.actions.set_credential_settings`)."""
    s, p = db_session(), principal()
    row = load(s, p, Issuer, issuer_id, CONFIGURE, write=True)
    with saving(_("Saved. Every credential of this issuer is made with these settings from now on.")) as saved:
        actions.set_credential_settings(
            s,
            current_context(),
            p,
            row,
            did_method=forms.text("did_method"),
            proof_format=forms.text("proof_format"),
            jwt_algorithm=forms.text("jwt_algorithm"),
        )
        return redirect(url_for("admin.issuer", issuer_id=row.public_id) + "#credential-settings")
    return _issuer_page(row, status=saved.status, credentials_form=request.form)


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
    user = accounts.user_by_email(s, forms.text("email"))
    if user is None:
        flash(_("No user with this e-mail. A site administrator creates accounts."), "error")
    else:
        with saving(_("Saved.")):
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
    choices = issuers_for(CONFIGURE)
    if not choices:
        abort(403)
    if request.method == "GET":
        return _badge_page(None, BadgeForm.blank(), issuers=choices)
    form = BadgeForm.from_request(s)
    if form.action != SAVE:
        return _badge_page(None, form, issuers=choices)
    with saving(_("Badge class created.")) as saved:
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
    with saving(_("Saved.")) as saved:
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
