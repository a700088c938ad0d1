"""Console screens of development paths (``/admin/paths``): build a path (steps, "N of these M" groups,
completion badge), see its problems and learners' completions, and decide on a completion whose step
badge was revoked (:mod:`hub.operations.paths`)."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import func, select

from hub.accounts.access import CONFIGURE, VIEW
from hub.badges.models import BadgeClass, Issuer
from hub.context import current_context
from hub.errors import ValidationError
from hub.operations import paths as path_ops
from hub.paths import services as paths
from hub.paths.models import Path, PathCompletion, PathGroup, PathStep
from hub.web import db_session
from hub.web.admin import bp, forms, principal
from hub.web.admin.common import issuers_for, saving
from hub.web.admin.scoping import load, scope


def _badge(public_id: str | None, ability: str = VIEW) -> BadgeClass:
    if not public_id:
        raise ValidationError(_("choose a badge"), field="badge_class")
    row = db_session().scalar(select(BadgeClass).where(BadgeClass.public_id == public_id))
    if row is None:
        raise ValidationError(_("no such badge"), field="badge_class")
    return row


@bp.route("/paths", methods=["GET", "POST"])
@login_required
def paths_list():
    s, p = db_session(), principal()
    status = 200
    if request.method == "POST":
        with saving(_("Path created.")) as saved:
            issuer = load(s, p, Issuer, request.form.get("issuer") or "", CONFIGURE, write=True)
            path = path_ops.create_path(
                s,
                current_context(),
                p,
                issuer,
                name=forms.text("name") or "",
                description=forms.text("description"),
                completion_badge=_badge(request.form.get("completion_badge")),
                ordered=forms.checked("ordered"),
                accept_other_issuers=forms.checked("accept_other_issuers"),
            )
            return redirect(url_for("admin.path_page", path_id=path.public_id))
        status = saved.status
    rows = s.scalars(select(Path).where(scope(p, Path, VIEW)).order_by(Path.name)).all()
    attention = dict(
        s.execute(
            select(PathCompletion.path_id, func.count())
            .where(PathCompletion.attention.is_not(None))
            .group_by(PathCompletion.path_id)
        ).all()
    )
    issuers = issuers_for(CONFIGURE)
    badge_choices = s.scalars(
        select(BadgeClass).where(BadgeClass.issuer_id.in_([i.id for i in issuers])).order_by(BadgeClass.name)
    ).all()
    return render_template(
        "admin/paths.html", paths=rows, attention=attention, issuers=issuers, badges=badge_choices, form=request.form
    ), status


def _path(path_id: str, *, write: bool = False) -> Path:
    return load(db_session(), principal(), Path, path_id, CONFIGURE if write else VIEW, write=write)


@bp.get("/paths/<path_id>")
@login_required
def path_page(path_id: str):
    s, p = db_session(), principal()
    path = _path(path_id)
    choices = select(BadgeClass).order_by(BadgeClass.name)
    if not path.accept_other_issuers:
        choices = choices.where(BadgeClass.issuer_id == path.issuer_id)
    taken = {st.badge_class_id for st in path.steps} | {path.completion_badge_id}
    badge_choices = [b for b in s.scalars(choices.limit(500)) if b.id not in taken]
    needing = s.scalars(
        select(PathCompletion)
        .where(PathCompletion.path_id == path.id, PathCompletion.attention.is_not(None))
        .order_by(PathCompletion.attention_at)
    ).all()
    completed = s.scalar(select(func.count()).where(PathCompletion.path_id == path.id))
    return render_template(
        "admin/path.html",
        path=path,
        badges=badge_choices,
        problems=paths.problems(s, path),
        needing=needing,
        completed=completed,
        can_edit=p.may(path.issuer_id, CONFIGURE, write=True),
        public_url=current_context().urls.path(path.public_id),
    )


@bp.post("/paths/<path_id>")
@login_required
def path_update(path_id: str):
    s, p = db_session(), principal()
    path = _path(path_id, write=True)
    action = request.form.get("action")
    with saving(_("Saved.")):
        if action == "step":
            group_id = forms.number("group")
            group = s.get(PathGroup, group_id) if group_id else None
            path_ops.add_step(
                s, p, path, _badge(request.form.get("badge_class")), required=forms.checked("required"), group=group
            )
        elif action == "group":
            path_ops.add_group(s, p, path, name=forms.text("group_name") or "", need=forms.number("need") or 0)
        elif action == "remove":
            step = s.get(PathStep, forms.number("step") or 0)
            if step is None:
                raise ValidationError(_("no such step"), field="step")
            path_ops.remove_step(s, p, path, step)
        elif action == "delete":
            path_ops.delete_path(s, p, path)
            return redirect(url_for("admin.paths_list"))
        else:
            path_ops.update_path(
                s,
                current_context(),
                p,
                path,
                name=forms.text("name") or "",
                description=forms.text("description"),
                ordered=forms.checked("ordered"),
                accept_other_issuers=forms.checked("accept_other_issuers"),
            )
    return redirect(url_for("admin.path_page", path_id=path_id))


@bp.post("/paths/<path_id>/completions/<int:completion_id>")
@login_required
def path_completion_decide(path_id: str, completion_id: int):
    s, p = db_session(), principal()
    path = _path(path_id, write=True)
    completion = s.get(PathCompletion, completion_id)
    with saving(_("Decision recorded.")):
        if completion is None or completion.path_id != path.id:
            raise ValidationError(_("no such completion"), field="completion")
        path_ops.resolve_completion(
            s, current_context(), p, completion, request.form.get("decision") or "", forms.text("reason")
        )
    return redirect(url_for("admin.path_page", path_id=path_id))


def attention_count() -> int:
    """Completions of the principal's paths that wait for a decision (the console's notice)."""
    s, p = db_session(), principal()
    return (
        s.scalar(
            select(func.count())
            .select_from(PathCompletion)
            .join(Path, Path.id == PathCompletion.path_id)
            .where(PathCompletion.attention.is_not(None), scope(p, Path, CONFIGURE))
        )
        or 0
    )


@bp.app_context_processor
def _path_attention() -> dict:
    """``path_attention`` for the console's notice (signed-in console pages only)."""
    from flask_login import current_user

    from hub.web.admin import is_console_request

    if not is_console_request() or not current_user.is_authenticated:
        return {}
    return {"path_attention": attention_count()}
