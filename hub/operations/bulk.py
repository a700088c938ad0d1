"""Bulk award from a CSV upload: parse and validate (line-numbered errors), preview, then a background
job that awards in batches and records its progress, so a page can show a progress bar.

CSV columns (header row required, UTF-8, comma or semicolon): ``email``, ``name``, ``badge`` (badge class
id or exact name, of the chosen issuer), optional ``evidence_url`` and ``issued_on`` (ISO 8601 date or
date-time, not in the future). A row repeating an earlier one (same person and once-only badge; for a
badge that may be earned more than once, also the same date and evidence) is skipped with a warning.
Each row's award has the source key ``bulk:<job id>:<line>``, so a job resumed after a crash never awards
a row twice. With ``notify`` the recipients get the award e-mail (outbox rows of each batch's
transaction, sent after its commit, as event awards are). The upload and preview screens are in
:mod:`hub.web.admin.bulk`; the awarding runs as a ``bulk.award`` job of :mod:`hub.jobs`.
"""

from __future__ import annotations

import csv
import io
import logging
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import jobs
from hub.accounts import audit
from hub.accounts.access import AWARD, Principal
from hub.accounts.models import BulkJob, User
from hub.badges.models import BadgeClass, Issuer
from hub.badges.recipient import normalise_email
from hub.badges.services import check_issued_on, recipient_name
from hub.context import HubContext
from hub.errors import HubError, ValidationError
from hub.i18n import dump_text, joined, number
from hub.i18n import lazy as _l
from hub.operations import actions

log = logging.getLogger(__name__)
MAX_ROWS = 5000
BATCH = 100
COLUMNS = ("email", "name", "badge", "evidence_url", "issued_on")


def parse_csv(data: bytes, badge_classes: list[BadgeClass]) -> tuple[list[dict], list[dict]]:
    """Validate an upload. Returns ``(rows, errors)``: rows as ``{"line", "email", "name", "badge",
    "evidence_url", "issued_on"}`` (``badge`` a badge class public id, ``issued_on`` ISO 8601 or None),
    errors as ``{"line", "error"}`` (line 1 is the header; ``error`` a message stored with
    :func:`hub.i18n.dump_text`, shown in the reader's language), plus ``"warning": True`` for a row
    skipped because it repeats an earlier one (:func:`_repeat_key`).

    Raises:
        ValidationError: not UTF-8, no header, missing columns, or more than :data:`MAX_ROWS` rows.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError(_l("the file is not UTF-8 text"), field="file") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [(h or "").strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in ("email", "badge") if c not in header]
    if missing:
        raise ValidationError(_l("the header row lacks: %(columns)s", columns=joined(missing)), field="file")
    reader.fieldnames = header
    by_id = {b.public_id: b for b in badge_classes}
    by_name = {b.name.strip().casefold(): b for b in badge_classes}
    rows: list[dict] = []
    errors: list[dict] = []
    seen: dict[tuple, int] = {}  # repeat key -> line of its first row
    for record in reader:
        line = reader.line_num
        if len(rows) + len(errors) >= MAX_ROWS:
            raise ValidationError(
                _l("the file has more than %(max)s rows; split it", max=number(MAX_ROWS)), field="file"
            )
        value = {k: (record.get(k) or "").strip() for k in COLUMNS}
        if not any(value.values()):
            continue
        try:
            row = _check_row(line, value, by_id, by_name)
        except ValidationError as exc:
            errors.append({"line": line, "error": dump_text(exc.detail)})
            continue
        key = _repeat_key(row, by_id[row["badge"]])
        if key in seen:
            repeat = _l("repeats line %(line)s (the same person and badge); skipped", line=seen[key])
            errors.append({"line": line, "error": dump_text(repeat), "warning": True})
            continue
        seen[key] = line
        rows.append(row)
    return rows, errors


def _repeat_key(row: dict, badge: BadgeClass) -> tuple:
    """Rows with the same key award the same thing: once-only badges once per person (the award service
    would skip the repeat anyway), other badges when also the date and evidence are the same."""
    if badge.allow_multiple:
        return row["email"], row["badge"], row["issued_on"], row["evidence_url"]
    return row["email"], row["badge"]


def _check_row(line: int, value: dict, by_id: dict, by_name: dict) -> dict:
    email = normalise_email(value["email"])
    badge = by_id.get(value["badge"]) or by_name.get(value["badge"].casefold())
    if badge is None:
        raise ValidationError(_l("no badge '%(badge)s' at this issuer", badge=value["badge"]))
    evidence = value["evidence_url"] or None
    if evidence and not evidence.startswith(("https://", "http://")):
        raise ValidationError(_l("the evidence URL must be an http(s) URL"))
    issued_on = None
    if value["issued_on"]:
        try:
            when = datetime.fromisoformat(value["issued_on"].replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(
                _l("the issue date '%(value)s' is not a date like 2025-06-30", value=value["issued_on"])
            ) from None
        issued_on = check_issued_on(when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()
    return {
        "line": line,
        "email": email,
        "name": recipient_name(value["name"]),
        "badge": badge.public_id,
        "evidence_url": evidence,
        "issued_on": issued_on,
    }


def run_job(ctx: HubContext, run: jobs.JobRun) -> None:
    """The ``bulk.award`` job: award a bulk job's rows in batches of :data:`BATCH` (one transaction
    each, which also moves ``done`` on), resuming at ``done`` after a crash; each batch renews the job's
    lease and records progress. Row failures are recorded on the bulk job; it ends ``done``. The award
    e-mails a batch queued (``notify``) are delivered by the runner once the batch has committed.

    Raises:
        HubError: the user who started it is gone or inactive (the job fails with that reason).
    """
    job_id = run.payload["bulk_job"]
    try:
        while True:
            with ctx.db.session_scope() as s:
                job = s.get(BulkJob, job_id)
                if job is None:
                    return
                if job.done >= job.total:
                    job.status = "done"
                    return
                job.status = "running"
                _run_batch(s, ctx, job)
                done, total = job.done, job.total
            run.progress(done, total)
    except Exception:
        if run.attempts >= jobs.KINDS["bulk.award"].max_attempts:
            with ctx.db.session_scope() as s:
                row = s.get(BulkJob, job_id)
                if row is not None:
                    row.status = "failed"
        raise


def _run_batch(s: Session, ctx: HubContext, job: BulkJob) -> None:
    user = s.get(User, job.user_id) if job.user_id else None
    if user is None or not user.active:
        raise HubError("the user who started the job is gone")
    p = Principal.for_user(user)
    badges = {b.public_id: b for b in s.scalars(select(BadgeClass).where(BadgeClass.issuer_id == job.issuer_id))}
    errors, created = list(job.errors or []), 0
    for row in job.rows[job.done : job.done + BATCH]:
        try:
            with s.begin_nested():
                result = actions.award(
                    s,
                    ctx,
                    p,
                    badges[row["badge"]],
                    email=row["email"],
                    name=row["name"],
                    evidence_url=row["evidence_url"],
                    issued_on=datetime.fromisoformat(row["issued_on"]) if row["issued_on"] else None,
                    source_key=f"bulk:{job.public_id}:{row['line']}",
                    notify=job.notify,
                )
            created += result.created
        except (HubError, KeyError) as exc:
            detail = exc.detail if isinstance(exc, HubError) else _l("the badge no longer exists")
            errors.append({"line": row["line"], "error": dump_text(detail)})
    job.done = min(job.done + BATCH, job.total)
    job.created += created
    job.errors = errors


def prepare(session: Session, p: Principal, issuer: Issuer, filename: str | None, data: bytes) -> BulkJob:
    """Read an uploaded CSV (:func:`parse_csv`) for ``issuer``'s badge classes and store it as a bulk
    job in ``preview`` state (AWARD ability at the issuer), flushed so it has its public id; nothing is
    awarded until :func:`start`.

    Raises:
        Forbidden / NotFound: no AWARD ability at the issuer.
        ValidationError: the file is not a CSV the hub can read (see :func:`parse_csv`).
    """
    p.require(issuer.id, AWARD, write=True, what="BulkJob")
    rows, errors = parse_csv(data, issuer.badge_classes)
    job = BulkJob(
        issuer_id=issuer.id,
        user_id=p.user_id,
        filename=(filename or "upload.csv")[:255],
        rows=rows,
        total=len(rows),
        status="preview",
        errors=errors,
    )
    session.add(job)
    session.flush()
    return job


def start(session: Session, ctx: HubContext, p: Principal, job: BulkJob, *, notify: bool) -> bool:
    """Start a previewed bulk job (AWARD ability at its issuer): audited, and a ``bulk.award`` job of
    the job system is enqueued in the same transaction, so it runs once the caller commits. A job
    already started is left alone: returns False.

    Raises:
        Forbidden / NotFound: no AWARD ability at the job's issuer.
    """
    p.require(job.issuer_id, AWARD, write=True, what="BulkJob")
    if job.status != "preview" or not job.total:
        return False
    job.status = "queued"
    job.notify = notify
    job.errors = []  # the preview's errors were shown; the job records its own
    audit.record(
        session,
        p,
        "bulk.start",
        "bulk_job",
        job.public_id,
        issuer_id=job.issuer_id,
        after={"rows": job.total, "file": job.filename, "notify": job.notify},
    )
    jobs.enqueue(
        session,
        "bulk.award",
        {"bulk_job": job.id},
        dedup_key=f"bulk:{job.public_id}",
        issuer_id=job.issuer_id,
        ctx=ctx,
    )
    return True


jobs.register("bulk.award", run_job, max_attempts=5)
