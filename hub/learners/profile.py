"""How an award is presented in public: the learner's choices, read by the public page, the
certificate and the portfolio. Only reads; changing them is in :mod:`hub.learners.services`."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.badges.models import Assertion
from hub.learners.models import Learner, LearnerBadge, LearnerEmail


@dataclass(frozen=True)
class Presentation:
    """For one award: ``name`` to print on the certificate (learner's chosen name, else the platform's);
    ``show_name`` (public pages may show it), ``allow_indexing`` (no ``noindex``), ``public`` (in the
    portfolio; certificate downloadable by anyone), ``locale`` (``pl``/``en`` or None), ``learner``."""

    name: str | None
    show_name: bool
    allow_indexing: bool
    public: bool
    locale: str | None
    learner: Learner | None


def learner_for(session: Session, assertion: Assertion) -> Learner | None:
    """The learner who owns ``assertion`` (by curation row, else by a verified e-mail), if any."""
    row = session.scalar(select(LearnerBadge).where(LearnerBadge.assertion_id == assertion.id))
    if row is not None:
        return session.get(Learner, row.learner_id)
    if assertion.recipient_plain:
        email = session.scalar(select(LearnerEmail).where(LearnerEmail.email == assertion.recipient_plain))
        if email is not None:
            return email.learner
    return None


def presentation(session: Session, assertion: Assertion) -> Presentation:
    """The public presentation of ``assertion``. With no learner account yet: name not shown, not
    indexed, not public (the recipient has not chosen anything)."""
    learner = learner_for(session, assertion)
    if learner is None:
        return Presentation(assertion.recipient_name, False, False, False, None, None)
    curated = session.scalar(select(LearnerBadge).where(LearnerBadge.assertion_id == assertion.id))
    return Presentation(
        name=learner.display_name or assertion.recipient_name,
        show_name=learner.show_name,
        allow_indexing=learner.allow_indexing,
        public=bool(curated and curated.public),
        locale=learner.locale,
        learner=learner,
    )
