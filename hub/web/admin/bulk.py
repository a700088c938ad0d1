"""Bulk award screens: upload a CSV, preview it, start the job, watch its progress. The parsing, checks
and awarding are request-free, in :mod:`hub.operations.bulk`."""

from __future__ import annotations

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from hub.accounts.access import AWARD
from hub.accounts.models import BulkJob
from hub.badges.models import BadgeClass, Issuer
from hub.context import current_context
from hub.errors import HubError
from hub.operations import bulk as operations
from hub.web import db_session
from hub.web.admin import bp, forms, principal
from hub.web.admin.scoping import load, scope

# ---- views ------------------------------------------------------------------------------------------------


def _award_issuers() -> list[Issuer]:
    from hub.badges.services import list_issuers

    return db_session().scalars(list_issuers(scope(principal(), Issuer, AWARD))).all()


@bp.route("/bulk", methods=["GET", "POST"])
@login_required
def bulk():
    s, p = db_session(), principal()
    if request.method == "POST":
        try:
            issuer = load(s, p, Issuer, request.form.get("issuer", ""), AWARD, write=True)
            upload = request.files.get("file")
            filename, data = (upload.filename, upload.read()) if upload else (None, b"")
            job = operations.prepare(s, p, issuer, filename, data)
        except HubError as exc:
            flash(_("Could not read the file: %(detail)s", detail=exc.detail), "error")
            return render_template("admin/bulk.html", issuers=_award_issuers()), 422
        return redirect(url_for("admin.bulk_job", job_id=job.public_id))
    return render_template("admin/bulk.html", issuers=_award_issuers())


@bp.get("/bulk/<job_id>")
@login_required
def bulk_job(job_id: str):
    job = load(db_session(), principal(), BulkJob, job_id, AWARD)
    badge_rows = db_session().scalars(select(BadgeClass).where(BadgeClass.issuer_id == job.issuer_id))
    names = {b.public_id: b.name for b in badge_rows}
    problems = job.errors or []
    return render_template(
        "admin/bulk_job.html",
        job=job,
        names=names,
        errors=[e for e in problems if not e.get("warning")],
        repeats=[e for e in problems if e.get("warning")],
    )


@bp.get("/bulk/<job_id>/progress")
@login_required
def bulk_progress(job_id: str):
    job = load(db_session(), principal(), BulkJob, job_id, AWARD)
    return jsonify(status=job.status, done=job.done, total=job.total, created=job.created, errors=len(job.errors))


@bp.post("/bulk/<job_id>/start")
@login_required
def bulk_start(job_id: str):
    s, p = db_session(), principal()
    job = load(s, p, BulkJob, job_id, AWARD, write=True)
    operations.start(s, current_context(), p, job, notify=forms.checked("notify"))
    return redirect(url_for("admin.bulk_job", job_id=job.public_id))
