"""Console screens of people (users and their roles) and the audit log."""

from __future__ import annotations

from flask import abort, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from hub.accounts.access import CONFIGURE
from hub.accounts.models import AuditEntry, Membership, User
from hub.operations import actions
from hub.web import db_session
from hub.web.admin import bp, forms, principal
from hub.web.admin.common import saving

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
        with saving(_("User created.")) as saved:
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
    with saving():
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
