"""The one award operation. Every way a badge is awarded — an inbox event (webhook, Moodle push or
sync, LTI completion), the console, the API (one and many), bulk CSV, the LTI course page, the LTI
grade-threshold sync — goes through :func:`award`, so each gets the same checks, the same audit entry,
the same e-mail and the same idempotency.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from connectors.types import PlatformUser
from hub import jobs
from hub.accounts import audit
from hub.accounts.access import AWARD, Principal
from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass
from hub.certificates import jobs as certificate_jobs
from hub.context import HubContext
from hub.errors import ValidationError
from hub.i18n import lazy as _l
from hub.learners import notifications
from hub.outgoing import services as outgoing
from hub.paths import jobs as path_jobs
from hub.paths import services as path_services

ASSERTION_FIELDS = ("recipient_plain", "recipient_name", "issued_on", "revoked", "revocation_reason")
#: Schemes an evidence link may have. A ``javascript:`` or ``data:`` URL on a public badge page would run
#: or show content in the hub's origin when clicked (stored XSS), so only web addresses are accepted.
EVIDENCE_SCHEMES = ("https://", "http://")
MAX_EVIDENCE = 20


@dataclass(frozen=True)
class AwardOutcome(badges.AwardResult):
    """What :func:`award` did: :class:`hub.badges.services.AwardResult` (``assertion``, ``created``) plus
    ``mails``, the ids of the award e-mails queued in the same transaction (outbox rows), delivered by
    the job runner once the caller's transaction has committed."""

    mails: tuple[int, ...] = ()


#: The name older call sites use.
HandAward = AwardOutcome


def check_evidence(evidence: Iterable[dict]) -> list[dict]:
    """OB 2.0 Evidence entries (https://www.imsglobal.org/spec/ob/v2p0/#Evidence) as an award stores them:
    each a dict with an ``id`` URL and/or a ``narrative``/``name``/``description`` text.

    Raises:
        ValidationError: (field ``evidence``) an entry that is not an object, an ``id`` that is not an
            ``http(s)`` URL (``javascript:``, ``data:``, relative), or more than :data:`MAX_EVIDENCE` entries.
    """
    out = []
    for item in evidence:
        if not isinstance(item, dict):
            raise ValidationError(
                _l("each evidence entry must be an object with an id URL or a narrative"), field="evidence"
            )
        url = item.get("id")
        if url is not None:
            if not isinstance(url, str) or not url.strip().lower().startswith(EVIDENCE_SCHEMES):
                raise ValidationError(_l("the evidence URL must be an http(s) URL"), field="evidence")
            item = {**item, "id": url.strip()}
        out.append(item)
    if len(out) > MAX_EVIDENCE:
        raise ValidationError(_l("at most %(n)s evidence entries", n=MAX_EVIDENCE), field="evidence")
    return out


def award(
    session: Session,
    ctx: HubContext,
    p: Principal,
    badge: BadgeClass,
    recipient: PlatformUser,
    *,
    evidence: Iterable[dict] = (),
    issued_on: datetime | None = None,
    narrative: str | None = None,
    source_key: str | None = None,
    source_event=None,
    outcomes: Iterable[str] = (),
    grade: str | None = None,
    notify: bool = True,
    defer_status: bool = False,
) -> AwardOutcome:
    """Award ``badge`` to ``recipient`` on behalf of ``p``, inside the caller's unit of work.

    Steps, the same for every door: permission (AWARD at the badge's issuer: a connector's or LTI
    registration's principal only reaches its own issuer's badge classes), the evidence rule
    (:func:`check_evidence`), the award service (:func:`hub.badges.services.award`: issue date,
    micro-credential completeness, idempotency by ``source_key`` and once-only badges, signing), one
    audit entry for a new award, the ``certificate.render`` job that pre-renders its certificate and
    preview (:mod:`hub.certificates.jobs`; a batch caller with ``defer_status`` enqueues one for the
    batch instead), and — with ``notify`` — the award e-mail as an outbox row of this transaction,
    delivered after the commit (the runner is woken then); an ``award.issued`` outbox row per webhook
    subscription of the issuer (:mod:`hub.outgoing`); and, for a step badge of a development path, the
    ``path.check`` job that awards the path's completion badge once the learner holds what it needs
    (:mod:`hub.paths.services`; a ``defer_status`` caller enqueues one for its batch). A repeat of an award already made
    (``created`` False) writes no audit entry, renders nothing and sends no e-mail.

    Args:
        recipient: ``email`` required; ``name``, platform ids optional.
        evidence: OB 2.0 Evidence dicts.
        source_key: the fact this award answers (``webhook:<id>``, ``bulk:<job>:<line>``, ``lti:…``).
        source_event: the :class:`hub.inbox.models.InboundEvent` it came from, if any.
        outcomes / grade: as :func:`hub.badges.services.award`.
        defer_status: the caller allocates OB 3.0 status indexes and enqueues the certificate job
            for a batch (the inbox).

    Raises:
        NotFound / Forbidden: ``p`` may not award at the badge's issuer.
        ValidationError: bad evidence, e-mail, name or issue date.
        MicroCredentialIncomplete: the badge class lacks mandatory micro-credential elements.
    """
    p.require(badge.issuer_id, AWARD, write=True, what="BadgeClass")
    result = badges.award(
        session,
        ctx,
        badge,
        recipient,
        issued_on=issued_on,
        evidence=check_evidence(evidence),
        narrative=narrative,
        source_key=source_key,
        source_event=source_event,
        outcomes=outcomes,
        grade=grade,
        defer_status=defer_status,
    )
    mails: list[int] = []
    if result.created:
        audit.record(
            session,
            p,
            "assertion.create",
            "assertion",
            result.assertion.public_id,
            issuer_id=badge.issuer_id,
            after={**audit.snapshot(result.assertion, ASSERTION_FIELDS), "notify": notify, "source": source_key},
        )
        if not defer_status:
            certificate_jobs.enqueue_render(session, ctx, [result.assertion.id], issuer_id=badge.issuer_id)
            path_jobs.enqueue_checks(session, ctx, [result.assertion])
        outgoing.emit_award(session, ctx, "award.issued", result.assertion)
        if notify:
            mails = notifications.enqueue_awards(session, [result])
            if mails:
                jobs.wake_after_commit(session, ctx)
    return AwardOutcome(result.assertion, result.created, tuple(mails))


def revoke(session: Session, ctx: HubContext, p: Principal, assertion: Assertion, reason: str) -> Assertion:
    """Revoke ``assertion`` with ``reason`` on behalf of ``p`` (AWARD at its issuer), audited with the
    state before and after, told to webhook subscribers (``award.revoked``); a completion badge of a
    path it is a step of stays, marked for an administrator's decision
    (:func:`hub.paths.services.note_revoked`); its certificate and preview are re-rendered (REVOKED) by a job after the
    commit (a download before that renders the revoked one in memory).

    Raises:
        NotFound / Forbidden: ``p`` may not award at the assertion's issuer; as
            :func:`hub.badges.services.revoke`.
    """
    issuer_id = assertion.badge_class.issuer_id
    p.require(issuer_id, AWARD, write=True, what="Assertion")
    before = audit.snapshot(assertion, ASSERTION_FIELDS)
    badges.revoke(session, ctx, assertion, reason)
    audit.record(
        session,
        p,
        "assertion.revoke",
        "assertion",
        assertion.public_id,
        issuer_id=issuer_id,
        before=before,
        after=audit.snapshot(assertion, ASSERTION_FIELDS),
    )
    certificate_jobs.enqueue_render(session, ctx, [assertion.id], issuer_id=issuer_id)
    outgoing.emit_award(session, ctx, "award.revoked", assertion)
    path_services.note_revoked(session, assertion)
    return assertion
