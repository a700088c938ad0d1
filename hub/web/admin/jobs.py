"""Console screen of the job system (``/admin/jobs``): every background job with its state, attempts,
last error and progress, filtered by state and kind; a failed job can be retried
(:func:`hub.operations.actions.retry_job`)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from hub import jobs
from hub.accounts.access import CONFIGURE, VIEW
from hub.context import current_context
from hub.errors import HubError
from hub.i18n import N_
from hub.jobs.models import STATUSES, Job
from hub.operations import actions
from hub.web import db_session
from hub.web.admin import bp, principal
from hub.web.admin.paging import page
from hub.web.admin.scoping import load, scope

#: How the console names each job kind (the API uses the kind itself).
KIND_NAMES = {"bulk.award": N_("Bulk award"), "moodle.sync": N_("Moodle sync"), "lti.grade_sync": N_("LTI grade sync")}


@bp.get("/jobs")
@login_required
def jobs_list():
    s, p = db_session(), principal()
    status = request.args.get("status") or None
    kind = request.args.get("kind") or None
    query = jobs.list_jobs(scope(p, Job, VIEW), status=status if status in STATUSES else None, kind=kind)
    result = page(s, query, Job, limit=50, cursor=request.args.get("cursor"))
    return render_template(
        "admin/jobs.html",
        page=result,
        statuses=STATUSES,
        kinds=sorted(jobs.KINDS),
        kind_names={k: _(v) for k, v in KIND_NAMES.items()},
        args=request.args,
        can_retry={j.public_id: p.may(j.issuer_id, CONFIGURE, write=True) for j in result.items},
    )


@bp.post("/jobs/<job_id>/retry")
@login_required
def job_retry(job_id: str):
    s, p = db_session(), principal()
    row = load(s, p, Job, job_id, CONFIGURE, write=True)
    try:
        actions.retry_job(s, current_context(), p, row)
        flash(_("The job runs again."), "info")
    except HubError as exc:
        s.rollback()
        flash(_("Could not retry: %(detail)s", detail=exc.detail), "error")
    return redirect(url_for("admin.jobs_list"))
