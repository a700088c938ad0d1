"""Learner services: sign-in by claim or magic link, the learner's badges, settings, curation,
portfolio and deletion. Services flush, never commit, and never send mail: functions that need an
e-mail sent return the :class:`hub.learners.mail.Message`, which the caller sends after its commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.badges import services as badges
from hub.badges.models import Assertion
from hub.badges.recipient import normalise_email
from hub.certificates import jobs as certificate_jobs
from hub.certificates import services as certificates
from hub.context import HubContext
from hub.db import utcnow
from hub.errors import NotFound, ValidationError
from hub.i18n import LOCALES, joined, translations
from hub.i18n import lazy as _l
from hub.learners import tokens
from hub.learners.mail import Message
from hub.learners.models import Learner, LearnerBadge, LearnerEmail, LinkToken, Notification

log = logging.getLogger(__name__)


def learner_by_public_id(session: Session, public_id: str) -> Learner:
    """Raises NotFound."""
    return badges.get_by_public_id(session, Learner, public_id)


def _sign_in(session: Session, email: str) -> Learner:
    """The learner owning ``email`` (proved by the link just redeemed), created on first sign-in."""
    row = session.scalar(select(LearnerEmail).where(LearnerEmail.email == email))
    if row is not None:
        return row.learner
    learner = Learner()
    learner.emails.append(LearnerEmail(email=email, verified_at=utcnow()))
    session.add(learner)
    session.flush()
    log.info("learner account created", extra={"learner": learner.public_id})
    return learner


def claim(session: Session, ctx: HubContext, token: str) -> tuple[Learner, Assertion]:
    """Redeem a claim link: signs the recipient in and returns the claimed award.

    Raises:
        LinkInvalid / LinkExpired / LinkUsed (see :mod:`hub.learners.tokens`); NotFound: the award is gone.
    """
    row = tokens.redeem(session, ctx, tokens.CLAIM, token)
    assertion = session.get(Assertion, row.assertion_id) if row.assertion_id else None
    if assertion is None:
        raise NotFound(_l("the badge of this link no longer exists"))
    learner = _sign_in(session, row.email)
    badges_of(session, learner)  # make the curation rows, the claimed badge among them
    return learner, assertion


def login(session: Session, ctx: HubContext, token: str) -> Learner:
    """Redeem a magic login link. Raises LinkInvalid / LinkExpired / LinkUsed."""
    return _sign_in(session, tokens.redeem(session, ctx, tokens.LOGIN, token).email)


def request_login(session: Session, ctx: HubContext, email: str, locale: str) -> Message | None:
    """A login-link e-mail for ``email`` if the hub knows it (an award or an account), else None.
    The caller answers the same either way, so the form does not reveal who has badges.

    Raises:
        ValidationError: not an e-mail address.
    """
    email = normalise_email(email)
    known = session.scalar(select(LearnerEmail.id).where(LearnerEmail.email == email)) or session.scalar(
        select(Assertion.id).where(Assertion.recipient_plain == email).limit(1)
    )
    if not known:
        return None
    link = ctx.urls.login_link(tokens.issue(session, ctx, tokens.LOGIN, email))
    _ = translations(ctx.settings.instance_path, locale).gettext
    text = "\n\n".join(
        [
            _("Hello,"),
            _("use this link to sign in to your badges (it works once, for %(minutes)d minutes):")
            % {"minutes": ctx.settings.login_link_minutes},
            link,
            _("If you did not ask for it, ignore this e-mail."),
        ]
    )
    return Message(to=email, subject=_("Your sign-in link"), text=text, locale=locale)


def emails_of(learner: Learner) -> list[str]:
    return [e.email for e in learner.emails]


@dataclass(frozen=True)
class LearnerAward:
    """One of the learner's awards with their choice for it."""

    assertion: Assertion
    choice: LearnerBadge


def badges_of(session: Session, learner: Learner) -> list[LearnerAward]:
    """Every award issued to any of the learner's verified addresses, in the learner's order (new ones
    after the ordered ones, newest first). Makes missing curation rows (private by default)."""
    emails = emails_of(learner)
    assertions = session.scalars(select(Assertion).where(Assertion.recipient_plain.in_(emails))).all() if emails else []
    rows = {
        r.assertion_id: r for r in session.scalars(select(LearnerBadge).where(LearnerBadge.learner_id == learner.id))
    }
    known = {a.id for a in assertions} | set(rows)
    for assertion in assertions:
        if assertion.id not in rows:
            row = LearnerBadge(learner_id=learner.id, assertion_id=assertion.id, public=False, position=0)
            session.add(row)
            rows[assertion.id] = row
    session.flush()
    by_id: dict[int, Assertion | None] = {a.id: a for a in assertions}
    for aid in known - set(by_id):  # curated before, e-mail since erased: keep showing it
        by_id[aid] = session.get(Assertion, aid)
    out = [LearnerAward(a, rows[aid]) for aid in known if (a := by_id.get(aid)) is not None]
    out.sort(key=lambda x: (x.choice.position == 0, x.choice.position, -x.assertion.issued_on.timestamp()))
    return out


def update_settings(
    session: Session,
    learner: Learner,
    *,
    display_name: str | None,
    locale: str | None,
    show_name: bool,
    allow_indexing: bool,
    ctx: HubContext | None = None,
) -> Learner:
    """Change the learner's name on certificates, language and visibility choices. Certificates and
    previews showing the old values are stale at once (their fingerprints change: a download renders
    the new one in memory); with ``ctx``, a job re-renders and stores them after the commit.

    Raises:
        ValidationError: a name over 255 characters, an unknown language.
    """
    name = (display_name or "").strip() or None
    if name and len(name) > 255:
        raise ValidationError(_l("the name is longer than 255 characters"), field="display_name")
    if locale and locale not in LOCALES:
        raise ValidationError(_l("language must be one of %(choices)s", choices=joined(LOCALES)), field="locale")
    learner.display_name = name
    learner.locale = locale or None
    learner.show_name = bool(show_name)
    learner.allow_indexing = bool(allow_indexing)
    session.flush()
    if ctx is not None:
        ids = [x.assertion.id for x in badges_of(session, learner)]
        certificate_jobs.enqueue_render(session, ctx, ids)
    return learner


def curate(session: Session, learner: Learner, order: list[str], public: set[str]) -> list[LearnerAward]:
    """Set the portfolio: ``order`` lists assertion public ids first to last; those in ``public`` are
    shown. Ids the learner does not own are ignored."""
    awards = {x.assertion.public_id: x for x in badges_of(session, learner)}
    position = 1
    for public_id in order:
        if public_id in awards:
            awards[public_id].choice.position = position
            position += 1
    for public_id, award in awards.items():
        award.choice.public = public_id in public
    session.flush()
    return badges_of(session, learner)


def portfolio(session: Session, learner_public_id: str) -> tuple[Learner, list[Assertion]]:
    """The learner's public badges in their order (revoked ones left out).

    Raises:
        NotFound: no such learner.
    """
    learner = learner_by_public_id(session, learner_public_id)
    shown = [x.assertion for x in badges_of(session, learner) if x.choice.public and not x.assertion.revoked]
    return learner, shown


def delete_learner(session: Session, learner: Learner) -> int:
    """Delete the account and the personal data of its awards (plain e-mail, name, cached certificates
    and previews, links, notifications). The awards stay, verifiable through their hashed identity.
    Returns how many awards were anonymised."""
    awards = badges_of(session, learner)
    emails = emails_of(learner)
    ids = [x.assertion.id for x in awards]
    for x in awards:
        badges.forget_recipient(session, x.assertion)
    if ids:
        certificates.drop_renderings(session, ids)
        session.execute(delete(Notification).where(Notification.assertion_id.in_(ids)))
    if emails:
        session.execute(delete(LinkToken).where(LinkToken.email.in_(emails)))
    session.delete(learner)
    session.flush()
    log.info("learner deleted", extra={"awards": len(ids)})
    return len(ids)
