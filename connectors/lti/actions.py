"""Every change the console, the JSON API and the ``badgehub lti`` commands make to registrations,
deployments and the tool key, in one place: check the principal, call the service, write the audit entry
(:func:`hub.accounts.audit.record`, with before/after). The caller's boundary commits; the web views
register :func:`connectors.lti.framing.forget_after_commit` when a registration's status or URLs changed.

Registrations and the tool key are site-level: only site administrators (with an API token of scope
``manage``) may change them (:meth:`hub.accounts.access.Principal.require_site_admin`).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.types import PlatformUser
from hub import jobs
from hub.accounts import audit
from hub.accounts.access import CONFIGURE, Principal
from hub.context import HubContext
from hub.errors import NotFound, ValidationError
from hub.i18n import lazy as _l

from . import registrations as regs
from . import services as svc
from .models import ACTIVE, INACTIVE, PENDING, LtiContext, LtiDeployment, LtiRegistration, LtiToolKey

REGISTRATION_FIELDS = (
    "issuer",
    "client_id",
    "name",
    "status",
    "auth_login_url",
    "auth_token_url",
    "auth_audience",
    "key_set_url",
)
_VERB = {ACTIVE: "approve", INACTIVE: "deactivate", PENDING: "suspend"}
#: Principal of the ``badgehub lti`` commands in the audit log.
CLI = Principal(None, "cli", site_admin=True, via="cli")


def can_view(p: Principal) -> bool:
    """Whether ``p`` may see the LTI registrations at all (site administrators)."""
    return p.site_admin


def load_registration(session: Session, p: Principal, public_id: str, *, write: bool = False) -> LtiRegistration:
    """The registration ``public_id`` for a site administrator.

    Raises:
        NotFound: not a site administrator (existence is not revealed), or no such registration.
        Forbidden: a site administrator's token without the ``manage`` scope, for a ``write``.
    """
    p.require(None, CONFIGURE, write=write, what=_l("LTI registration"))
    if not regs.is_public_id(public_id):
        raise NotFound(_l("no LTI registration %(id)s", id=public_id))
    return regs.get_registration(session, public_id)


def load_deployment(session: Session, p: Principal, public_id: str, *, write: bool = False) -> LtiDeployment:
    """A deployment by its public id, for a site administrator (errors as :func:`load_registration`)."""
    p.require(None, CONFIGURE, write=write, what=_l("LTI deployment"))
    found = regs.is_public_id(public_id)
    dep = session.scalar(select(LtiDeployment).where(LtiDeployment.public_id == public_id)) if found else None
    if dep is None:
        raise NotFound(_l("no LTI deployment %(id)s", id=public_id))
    return dep


def find_deployment(session: Session, reg: LtiRegistration, deployment_id: str) -> LtiDeployment:
    """The deployment of ``reg`` with the platform's ``deployment_id``.

    Raises:
        NotFound: ``reg`` has no such deployment.
    """
    dep = regs.find_deployment(session, reg, deployment_id) if "\x00" not in deployment_id else None
    if dep is None:
        raise NotFound(
            _l('registration %(id)s has no deployment "%(deployment)s"', id=reg.public_id, deployment=deployment_id)
        )
    return dep


def _registration_snapshot(reg: LtiRegistration) -> dict:
    doc = audit.snapshot(reg, REGISTRATION_FIELDS)
    doc["badge_issuer"] = reg.badge_issuer.public_id if reg.badge_issuer else None
    doc["deployments"] = {d.deployment_id: d.status for d in reg.deployments}
    return doc


def create_registration(
    session: Session, ctx: HubContext, p: Principal, *, badge_issuer: str | None = None, **fields
) -> LtiRegistration:
    """Register a platform by hand, active at once, belonging to the issuer whose public id is
    ``badge_issuer`` (``fields`` as :func:`connectors.lti.registrations.create_registration`).

    Raises:
        Forbidden: not a site administrator with a write scope.
        ValidationError: as the service (no or an unknown ``badge_issuer`` included).
    """
    p.require_site_admin(write=True)
    reg = regs.create_registration(session, ctx, badge_issuer=regs.find_issuer(session, badge_issuer), **fields)
    audit.record(
        session,
        p,
        "lti_registration.create",
        "lti_registration",
        reg.public_id,
        issuer_id=reg.issuer_id,
        after=_registration_snapshot(reg),
    )
    return reg


def assign_issuer(session: Session, p: Principal, reg: LtiRegistration, badge_issuer: str | None) -> LtiRegistration:
    """Make ``reg`` belong to the issuer whose public id is ``badge_issuer``
    (:func:`connectors.lti.registrations.assign_issuer`; its ``lti`` connector follows). Not logged when
    it already does.

    Raises:
        Forbidden: not a site administrator with a write scope.
        ValidationError: no or an unknown ``badge_issuer``.
    """
    p.require_site_admin(write=True)
    issuer = regs.find_issuer(session, badge_issuer)
    if issuer is None:
        raise ValidationError(regs.CHOOSE_ISSUER, field="badge_issuer")
    before = reg.badge_issuer.public_id if reg.badge_issuer else None
    regs.assign_issuer(session, reg, issuer)
    svc.sync_connector_issuer(session, reg)
    if before != issuer.public_id:
        audit.record(
            session,
            p,
            "lti_registration.assign",
            "lti_registration",
            reg.public_id,
            issuer_id=issuer.id,
            before={"badge_issuer": before},
            after={"badge_issuer": issuer.public_id},
        )
    return reg


def set_registration_status(
    session: Session, p: Principal, reg: LtiRegistration, status: str, *, badge_issuer: str | None = None
) -> LtiRegistration:
    """Approve (``active``) or deactivate (``inactive``) a registration; a no-op is not logged.
    Approving assigns the issuer whose public id is ``badge_issuer`` (:func:`assign_issuer`); it is
    required unless the registration already belongs to one.

    Raises:
        Forbidden: not a site administrator with a write scope.
        ValidationError: an unknown status; approval without an issuer, or an unknown one (field
            ``badge_issuer``).
    """
    p.require_site_admin(write=True)
    if badge_issuer:
        assign_issuer(session, p, reg, badge_issuer)
    before = reg.status
    regs.set_registration_status(session, reg, status)
    if before != status:
        audit.record(
            session,
            p,
            f"lti_registration.{_VERB[status]}",
            "lti_registration",
            reg.public_id,
            issuer_id=reg.issuer_id,
            before={"status": before},
            after={"status": status},
        )
    return reg


def update_registration(session: Session, ctx: HubContext, p: Principal, reg: LtiRegistration, **fields):
    """Change a registration (``fields`` as :func:`connectors.lti.registrations.update_registration`);
    the audit entry holds the fields before and after. A change that changes nothing is not logged.

    Raises:
        Forbidden: not a site administrator with a write scope.
        ValidationError: as the service.
    """
    p.require_site_admin(write=True)
    before = _registration_snapshot(reg)
    regs.update_registration(session, ctx, reg, **fields)
    after = _registration_snapshot(reg)
    if after != before:
        changed = [k for k in after if after[k] != before.get(k)]
        audit.record(
            session,
            p,
            "lti_registration.update",
            "lti_registration",
            reg.public_id,
            before={k: before.get(k) for k in changed},
            after={k: after[k] for k in changed},
        )
    return reg


def _delete(session: Session, p: Principal, reg: LtiRegistration, action: str, statuses) -> svc.Footprint:
    p.require_site_admin(write=True)
    before = _registration_snapshot(reg)
    found = svc.delete_registration(session, reg, statuses=statuses)
    before["deleted"] = {"courses": found.courses, "linked_badges": found.linked_badges}
    audit.record(session, p, action, "lti_registration", reg.public_id, before=before)
    return found


def reject_registration(session: Session, p: Principal, reg: LtiRegistration) -> None:
    """Delete a pending registration (an unexpected or mistaken dynamic registration).

    Raises:
        Forbidden: not a site administrator with a write scope.
        ValidationError: the registration is not pending, or has awards (as :func:`delete_registration`).
    """
    _delete(session, p, reg, "lti_registration.reject", (PENDING,))


def delete_registration(session: Session, p: Principal, reg: LtiRegistration) -> svc.Footprint:
    """Delete an inactive or pending registration with its deployments and courses
    (:func:`connectors.lti.services.delete_registration`); returns what was deleted.

    Raises:
        Forbidden: not a site administrator with a write scope.
        ValidationError: the registration is active, or awards or completion events refer to it.
    """
    return _delete(session, p, reg, "lti_registration.delete", (PENDING, INACTIVE))


def set_deployment_status(session: Session, p: Principal, dep: LtiDeployment, status: str) -> LtiDeployment:
    """Approve (``active``) or deactivate (``inactive``) a deployment; a no-op is not logged.

    Raises:
        Forbidden: not a site administrator with a write scope.
        ValidationError: an unknown status.
    """
    p.require_site_admin(write=True)
    before = dep.status
    regs.set_deployment_status(session, dep, status)
    if before != status:
        audit.record(
            session,
            p,
            f"lti_deployment.{_VERB[status]}",
            "lti_deployment",
            dep.public_id,
            before={"status": before},
            after={
                "status": status,
                "deployment_id": dep.deployment_id,
                "registration": dep.registration.public_id,
            },
        )
    return dep


def rotate_tool_key(
    session: Session, ctx: HubContext, p: Principal, overlap: timedelta = regs.DEFAULT_KEY_OVERLAP
) -> LtiToolKey:
    """Make a new tool key (:func:`connectors.lti.registrations.rotate_tool_key`); the previous one stays
    published in the JWKS for ``overlap``.

    Raises:
        Forbidden: not a site administrator with a write scope.
    """
    p.require_site_admin(write=True)
    old = session.scalars(select(LtiToolKey.kid).where(LtiToolKey.retired_at.is_(None))).all()
    key = regs.rotate_tool_key(session, ctx, overlap)
    audit.record(
        session,
        p,
        "lti_tool_key.rotate",
        "lti_tool_key",
        key.public_id,
        before={"kids": list(old)},
        after={"kid": key.kid, "overlap_seconds": int(overlap.total_seconds())},
    )
    return key


def report_completion(session: Session, ctx: HubContext, p: Principal, context: LtiContext, user: PlatformUser):
    """Record a course completion reported from the platform side
    (:func:`connectors.lti.services.report_completion`). Returns ``(InboundEvent, created)``.

    Raises:
        Forbidden: not a site administrator with a write scope.
        ValidationError: no LTI user id (``sub``).
    """
    p.require_site_admin(write=True)
    event, created = svc.report_completion(session, ctx, context, user)
    if created:
        jobs.wake_after_commit(session, ctx)
        audit.record(
            session,
            p,
            "lti_completion.report",
            "inbound_event",
            event.public_id,
            after={"registration": context.registration.public_id, "context_id": context.context_id},
        )
    return event, created
