"""The ``certificate.render`` job: pre-renders awards' signed PDF certificates and sharing previews
after the commit that made them (or changed what they show), so public GETs serve stored bytes and
never write (:func:`hub.certificates.services.certificate_pdf` with ``store=False``).

Enqueued by:

- the award operation (:func:`hub.operations.awards.award`): one job per new award, or one per batch
  of the inbox (:func:`hub.inbox.services.process_claimed`), one ``INSERT`` each;
- a revocation, a learner's name, language or visibility change: the awards concerned;
- an issuer's certificate layout or signing certificate change: every award of the issuer;
- a badge class change (name, image, texts the certificate prints): its awards.

A rendering whose fingerprint is current is not made again, so a job re-run after a crash (or two
jobs for the same award) only re-checks what it had done (a few look-ups per award, no rendering);
each award is committed on its own, so a crash loses at most the one in hand. An award that fails to
render does not stop the others: the job fails at its end and its retry renders what is left.
Only with ``HUB_PRERENDER_CERTIFICATES=1`` (off by default: then each download renders in memory).
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub import jobs
from hub.badges.models import Assertion, BadgeClass
from hub.certificates import services
from hub.context import HubContext

log = logging.getLogger(__name__)

KIND = "certificate.render"
#: Awards rendered between two progress records of an issuer- or badge-wide job.
CHUNK = 50


def enqueue_render(
    session: Session,
    ctx: HubContext,
    assertion_ids: list[int],
    *,
    issuer_id: int | None = None,
    dedup_key: str | None = None,
) -> None:
    """Pre-render these awards' certificates and previews once this transaction has committed (one job
    row, one statement without ``dedup_key``; nothing without ids or with pre-rendering switched off)."""
    if not assertion_ids or not ctx.settings.prerender_certificates:
        return
    jobs.enqueue(session, KIND, {"assertions": list(assertion_ids)}, dedup_key=dedup_key, issuer_id=issuer_id, ctx=ctx)


def enqueue_issuer_render(session: Session, ctx: HubContext, issuer_id: int) -> None:
    """Re-render every award of the issuer (its layout or signing certificate changed)."""
    if ctx.settings.prerender_certificates:
        jobs.enqueue(session, KIND, {"issuer": issuer_id}, issuer_id=issuer_id, ctx=ctx)


def enqueue_badge_render(session: Session, ctx: HubContext, badge: BadgeClass) -> None:
    """Re-render every award of the badge class (what its certificates print changed)."""
    if ctx.settings.prerender_certificates:
        jobs.enqueue(session, KIND, {"badge_class": badge.id}, issuer_id=badge.issuer_id, ctx=ctx)


def render_one(ctx: HubContext, assertion_id: int) -> bool:
    """Make and store one award's certificate and preview (those not current) in a transaction of its
    own. Returns False when the award no longer exists."""
    with ctx.db.session_scope() as session:
        assertion = session.get(Assertion, assertion_id)
        if assertion is None:
            return False
        services.certificate_pdf(session, ctx, assertion, store=True)
        services.preview_png(session, ctx, assertion, store=True)
        return True


def _render_all(ctx: HubContext, job: jobs.JobRun, ids: list[int], done: int, total: int | None) -> list[str]:
    errors = []
    for assertion_id in ids:
        try:
            render_one(ctx, assertion_id)
        except Exception as exc:  # noqa: BLE001 - one award must not stop the others; the job retries
            log.warning("certificate of award %s could not be rendered: %s", assertion_id, exc)
            errors.append(f"{assertion_id}: {type(exc).__name__}: {exc}")
        done += 1
        job.progress(done, total)
    return errors


def _ids_after(ctx: HubContext, payload: dict, after: int) -> list[int]:
    query = select(Assertion.id).where(Assertion.id > after).order_by(Assertion.id).limit(CHUNK)
    if "badge_class" in payload:
        query = query.where(Assertion.badge_class_id == payload["badge_class"])
    else:
        query = query.join(BadgeClass).where(BadgeClass.issuer_id == payload["issuer"])
    with ctx.db.read_scope() as session:
        return list(session.scalars(query))


def handle(ctx: HubContext, job: jobs.JobRun) -> None:
    """Render the job's awards: ``{"assertions": [ids]}``, ``{"issuer": id}`` or ``{"badge_class": id}``.

    Raises:
        RuntimeError: some awards could not be rendered (named in the message; the job is retried).
    """
    payload = job.payload
    if "assertions" in payload:
        ids = [int(x) for x in payload["assertions"]]
        errors = _render_all(ctx, job, ids, 0, len(ids))
    else:
        after, done, errors = 0, 0, []
        while batch := _ids_after(ctx, payload, after):
            errors += _render_all(ctx, job, batch, done, None)
            after, done = batch[-1], done + len(batch)
    if errors:
        raise RuntimeError(f"{len(errors)} certificate(s) not rendered: " + "; ".join(errors[:5]))


jobs.register(KIND, handle, max_attempts=5)
