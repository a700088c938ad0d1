"""Platforms belong to issuers: who a launch acts as, and which badge classes it reaches.

Each registration is assigned to one Badge Hub issuer by a site administrator when it is approved
(:func:`connectors.lti.registrations.set_registration_status`). A teacher launched from it acts as the
registration's system principal (:meth:`hub.accounts.access.Principal.system`, ``via="lti"``), which
may award only that issuer's badge classes; the deep-link picker, the course page, the learner page,
awards, revocations, AGS scores and the grade sync see only them (issue 14, "Platforms belong to
issuers"). An active registration without an issuer (a database migrated from before) launches, but
every teacher action is refused with :class:`NotAssigned` until it is assigned.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.accounts.access import AWARD, Principal, not_found
from hub.badges.models import BadgeClass
from hub.errors import HubError
from hub.i18n import N_
from hub.i18n import lazy as _l

from .errors import NotAllowed
from .models import LtiRegistration

log = logging.getLogger(__name__)


class NotAssigned(NotAllowed):
    """A teacher action from a registration that no issuer owns yet."""

    slug = "lti-not-assigned"
    title = N_("Not set up yet")


def principal(reg: LtiRegistration) -> Principal:
    """The principal teachers, the grade sync and the course's scores act as for ``reg``: it may award
    (never configure) the badge classes of the registration's issuer only. The audit log names it
    ``lti:<registration public id>``.

    Raises:
        NotAssigned: ``reg`` belongs to no issuer yet (logged for the administrator).
    """
    if reg.issuer_id is None:
        log.warning(
            "LTI registration %s (%s / %s) is not assigned to an issuer: teacher action refused",
            reg.public_id,
            reg.issuer,
            reg.client_id,
        )
        raise NotAssigned(
            _l("This platform is not yet assigned to an issuer; ask the hub administrator."),
            reason=f"registration {reg.public_id} has no issuer",
        )
    return Principal.system(f"lti:{reg.public_id}", issuer_id=reg.issuer_id, via="lti")


def owns(reg: LtiRegistration, badge: BadgeClass) -> bool:
    """Whether ``badge`` belongs to the issuer of ``reg`` (False while ``reg`` has none)."""
    return reg.issuer_id is not None and badge.issuer_id == reg.issuer_id


def badge_classes(session: Session, p: Principal) -> list[BadgeClass]:
    """The badge classes ``p`` may award, by name (the picker and the course page offer these)."""
    return list(
        session.scalars(select(BadgeClass).where(p.scope_filter(BadgeClass.issuer_id, AWARD)).order_by(BadgeClass.name))
    )


def badge(session: Session, p: Principal, public_id: str | None) -> BadgeClass:
    """The badge class ``public_id`` if ``p`` may award it.

    Raises:
        NotFound: no such badge class, or one of another issuer (its existence is not revealed).
    """
    found = session.scalar(select(BadgeClass).where(BadgeClass.public_id == (public_id or "")))
    if found is None:
        raise not_found("BadgeClass")
    try:
        p.require(found.issuer_id, AWARD, write=True, what="BadgeClass")
    except HubError:
        raise not_found("BadgeClass") from None
    return found
