"""JSON API for the job system (``/api/v1/jobs``): every background job — bulk CSV awards, Moodle syncs,
LTI grade syncs — with its state, attempts, last error and progress, and a retry for a failed one. A
flask-smorest blueprint in the hub's OpenAPI document, authenticated like :mod:`hub.web.api`.

Who sees what: jobs of an issuer need ``view`` there (``configure`` to retry); jobs of no issuer are the
site administrators'. Inbox events and award e-mails, the runner's other queues, have their own
listings (``/api/v1/events``, an award's notifications).
"""

from __future__ import annotations

from flask_smorest import Blueprint as ApiBlueprint
from marshmallow import fields, validate

from hub import jobs
from hub.accounts.access import CONFIGURE, VIEW
from hub.context import current_context
from hub.jobs.models import FAILED, STATUSES, Job
from hub.operations import actions
from hub.timefmt import isoformat_z
from hub.web import db_session
from hub.web.admin.scoping import load, scope
from hub.web.api import PAGE_DOC, Base, Opt, PageArgs, Text, listing, me, page_schema

bp = ApiBlueprint("api_v1_jobs", __name__, url_prefix="/api/v1/jobs", description="Background jobs")


class JobArgs(PageArgs):
    status = Text(**Opt, validate=validate.OneOf(STATUSES))
    kind = Text(**Opt, validate=validate.Length(max=64))


class ProgressOut(Base):
    done = fields.Integer(allow_none=True)
    total = fields.Integer(allow_none=True)
    message = Text(allow_none=True)


class JobOut(Base):
    id = Text()
    kind = Text(metadata={"description": "bulk.award, moodle.sync, lti.grade_sync, ..."})
    status = Text(metadata={"enum": list(STATUSES)})
    attempts = fields.Integer()
    max_attempts = fields.Integer()
    last_error = Text(allow_none=True)
    progress = fields.Nested(ProgressOut)
    run_after = Text(metadata={"description": "not started before this time (a retry's backoff)"})
    created_at = Text()
    finished_at = Text(allow_none=True)


def job_json(job: Job) -> dict:
    """A job as the API and the console's progress poller show it."""
    progress = job.progress or {}
    return {
        "id": job.public_id,
        "kind": job.kind,
        "status": job.status,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "last_error": job.last_error,
        "progress": {k: progress.get(k) for k in ("done", "total", "message")},
        "run_after": isoformat_z(job.run_after),
        "created_at": isoformat_z(job.created_at),
        "finished_at": isoformat_z(job.finished_at) if job.finished_at else None,
    }


@bp.get("")
@bp.arguments(JobArgs, location="query")
@bp.response(200, page_schema(JobOut), description=PAGE_DOC)
def list_jobs(args):
    """Jobs of the issuers you may view (all, for site administrators), newest first."""
    query = jobs.list_jobs(scope(me(), Job, VIEW), status=args.get("status"), kind=args.get("kind"))
    return listing(query, Job, args, job_json)


@bp.get("/<job_id>")
@bp.response(200, JobOut)
def get_job(job_id):
    return job_json(load(db_session(), me(), Job, job_id, VIEW))


@bp.post("/<job_id>/retry")
@bp.response(200, JobOut)
@bp.alt_response(409, description="the job has not failed (problem JSON)")
def retry_job(job_id):
    """Run a failed job again with a fresh attempt budget (audited)."""
    row = load(db_session(), me(), Job, job_id, CONFIGURE, write=True)
    actions.retry_job(db_session(), current_context(), me(), row)
    return job_json(row)


__all__ = ["bp", "job_json", "FAILED"]
