"""Operations on development paths (:mod:`hub.paths`): build a path (CONFIGURE at its issuer), the
system's completion of one (the ``path.check`` job, :func:`check_job`, registered here), and an
administrator's decision on a completion whose step badge was revoked. Console, API and CLI call
these; each writes its audit entry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from connectors.types import PlatformUser
from hub import jobs
from hub.accounts import audit
from hub.accounts.access import CONFIGURE, Principal
from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.context import HubContext
from hub.errors import ValidationError
from hub.i18n import lazy as _l
from hub.operations import awards
from hub.outgoing import services as outgoing
from hub.paths import jobs as path_jobs
from hub.paths import services as paths
from hub.paths.models import Path, PathCompletion, PathGroup, PathStep

PATH_FIELDS = ("name", "description", "ordered", "accept_other_issuers", "completion_badge_id")
KEEP, REVOKE = "keep", "revoke"


def _text(value: str | None, field: str, limit: int = 255, *, required: bool = False) -> str | None:
    value = (value or "").strip() or None
    if required and not value:
        raise ValidationError(_l("this field is required"), field=field)
    if value and len(value) > limit:
        raise ValidationError(_l("at most %(n)s characters", n=limit), field=field)
    return value


def create_path(
    session: Session,
    ctx: HubContext,
    p: Principal,
    issuer: Issuer,
    *,
    name: str,
    completion_badge: BadgeClass,
    description: str | None = None,
    ordered: bool = False,
    accept_other_issuers: bool = False,
) -> Path:
    """A new path of ``issuer`` (CONFIGURE there), without steps yet.

    Raises:
        NotFound / Forbidden: no CONFIGURE at the issuer.
        ValidationError: no name; a completion badge of another issuer.
    """
    p.require(issuer.id, CONFIGURE, write=True, what="Issuer")
    path = Path(
        issuer_id=issuer.id,
        name=_text(name, "name", required=True),
        description=_text(description, "description", 5000),
        ordered=bool(ordered),
        accept_other_issuers=bool(accept_other_issuers),
        completion_badge=completion_badge,
        completion_badge_id=completion_badge.id,
    )
    paths.check_completion_badge(session, path, completion_badge)
    session.add(path)
    session.flush()
    audit.record(
        session, p, "path.create", "path", path.public_id, issuer_id=issuer.id, after=audit.snapshot(path, PATH_FIELDS)
    )
    return path


def update_path(session: Session, ctx: HubContext, p: Principal, path: Path, **fields) -> Path:
    """Change ``name``, ``description``, ``ordered``, ``accept_other_issuers`` or ``completion_badge``
    (a :class:`BadgeClass`). Raises as :func:`create_path`."""
    p.require(path.issuer_id, CONFIGURE, write=True, what="Path")
    before = audit.snapshot(path, PATH_FIELDS)
    if "name" in fields:
        path.name = _text(fields["name"], "name", required=True) or path.name
    if "description" in fields:
        path.description = _text(fields["description"], "description", 5000)
    for flag in ("ordered", "accept_other_issuers"):
        if flag in fields:
            setattr(path, flag, bool(fields[flag]))
    badge = fields.get("completion_badge")
    if badge is not None and badge.id != path.completion_badge_id:
        paths.check_completion_badge(session, path, badge)
        path.completion_badge = badge
    session.flush()
    paths.forget_cache(session)
    audit.record(
        session,
        p,
        "path.update",
        "path",
        path.public_id,
        issuer_id=path.issuer_id,
        before=before,
        after=audit.snapshot(path, PATH_FIELDS),
    )
    return path


def delete_path(session: Session, p: Principal, path: Path) -> None:
    """Delete a path and its steps (awards made stay)."""
    p.require(path.issuer_id, CONFIGURE, write=True, what="Path")
    audit.record(
        session,
        p,
        "path.delete",
        "path",
        path.public_id,
        issuer_id=path.issuer_id,
        before=audit.snapshot(path, PATH_FIELDS),
    )
    session.delete(path)
    session.flush()
    paths.forget_cache(session)


def add_group(session: Session, p: Principal, path: Path, *, name: str, need: int) -> PathGroup:
    """An "N of these M" group (``need`` ≥ 1) on ``path``.

    Raises:
        ValidationError: no name, ``need`` below 1.
    """
    p.require(path.issuer_id, CONFIGURE, write=True, what="Path")
    try:
        need = int(need)
    except (TypeError, ValueError):
        need = 0
    if need < 1:
        raise ValidationError(_l("a group needs at least 1 step"), field="need")
    group = PathGroup(name=_text(name, "name", required=True), need=need)
    path.groups.append(group)
    session.flush()
    audit.record(
        session,
        p,
        "path.group.add",
        "path",
        path.public_id,
        issuer_id=path.issuer_id,
        after={"group": group.name, "need": need},
    )
    return group


def add_step(
    session: Session,
    p: Principal,
    path: Path,
    badge: BadgeClass,
    *,
    required: bool = True,
    group: PathGroup | None = None,
) -> PathStep:
    """Add ``badge`` as the last step of ``path`` (required, optional, or one of ``group``).

    Raises:
        ValidationError: as :func:`hub.paths.services.check_step` (cycle, another issuer's badge not
            accepted, a step already); a group of another path.
    """
    p.require(path.issuer_id, CONFIGURE, write=True, what="Path")
    paths.check_step(session, path, badge)
    if group is not None and group.path_id != path.id:
        raise ValidationError(_l("that group belongs to another path"), field="group")
    step = PathStep(
        badge_class_id=badge.id,
        badge_name=badge.name,
        position=max((s.position for s in path.steps), default=0) + 1,
        required=bool(required) if group is None else False,
        group_id=group.id if group is not None else None,
    )
    path.steps.append(step)
    session.flush()
    paths.forget_cache(session)
    audit.record(
        session,
        p,
        "path.step.add",
        "path",
        path.public_id,
        issuer_id=path.issuer_id,
        after={"badge_class": badge.public_id, "required": step.required, "group": group.name if group else None},
    )
    return step


def remove_step(session: Session, p: Principal, path: Path, step: PathStep) -> None:
    """Remove a step (a deleted badge class's too). Completions made stay."""
    p.require(path.issuer_id, CONFIGURE, write=True, what="Path")
    if step.path_id != path.id:
        raise ValidationError(_l("that step belongs to another path"), field="step")
    path.steps.remove(step)
    session.flush()
    paths.forget_cache(session)
    audit.record(
        session,
        p,
        "path.step.remove",
        "path",
        path.public_id,
        issuer_id=path.issuer_id,
        before={"badge": step.badge_name},
    )


def complete(
    session: Session, ctx: HubContext, path: Path, trigger: Assertion, state: paths.Progress
) -> PathCompletion | None:
    """Award ``path``'s completion badge to ``trigger``'s learner, whose ``state`` is complete: through
    the one award operation as the system principal ``path:<id>`` (audited, e-mailed, told to webhook
    subscribers as ``award.issued``), plus a ``path.completed`` webhook event and its own audit entry.
    The :class:`PathCompletion` row (unique per path and learner) and the source key
    ``path:<path>:<email>`` make it happen once; returns None when it had happened already."""
    email = trigger.recipient_plain or ""
    p = Principal.system(f"path:{path.public_id}", issuer_id=path.issuer_id, via="path")
    completion = PathCompletion(path_id=path.id, recipient=email)
    try:
        with session.begin_nested():
            session.add(completion)
            session.flush()
    except IntegrityError:
        return None
    evidence = [
        {"id": ctx.urls.assertion(s.assertion.public_id), "name": s.step.badge_name}
        for s in state.steps
        if s.state == paths.DONE and s.assertion is not None
    ]
    outcome = awards.award(
        session,
        ctx,
        p,
        path.completion_badge,
        PlatformUser(email=email, name=trigger.recipient_name),
        evidence=evidence[: awards.MAX_EVIDENCE],
        narrative=f"Completed the development path „{path.name}”: {ctx.urls.path(path.public_id)}",
        source_key=f"path:{path.public_id}:{email}",
    )
    completion.assertion_id = outcome.assertion.id
    audit.record(
        session,
        p,
        "path.complete",
        "path",
        path.public_id,
        issuer_id=path.issuer_id,
        after={"recipient": email, "assertion": outcome.assertion.public_id, "trigger": trigger.public_id},
    )
    outgoing.emit(
        session,
        ctx,
        path.issuer_id,
        "path.completed",
        {
            "path": {"id": path.public_id, "name": path.name, "url": ctx.urls.path(path.public_id)},
            "award": outgoing.award_data(ctx, outcome.assertion),
            "steps": [e["id"] for e in evidence],
        },
        order_key=outcome.assertion.public_id,
    )
    return completion


def resolve_completion(
    session: Session,
    ctx: HubContext,
    p: Principal,
    completion: PathCompletion,
    decision: str,
    reason: str | None = None,
) -> PathCompletion:
    """An administrator's decision on a completion whose step was revoked: ``keep`` the completion
    badge, or ``revoke`` it (through :func:`hub.operations.awards.revoke`, with ``reason``).

    Raises:
        ValidationError: another decision; nothing to decide.
    """
    path = completion.path
    p.require(path.issuer_id, CONFIGURE, write=True, what="Path")
    if decision not in (KEEP, REVOKE):
        raise ValidationError(_l("decide keep or revoke"), field="decision")
    if not completion.attention:
        raise ValidationError(_l("this completion needs no decision"), field="decision")
    before = {"attention": completion.attention}
    if decision == REVOKE and completion.assertion_id is not None:
        assertion = session.get(Assertion, completion.assertion_id)
        if assertion is not None and not assertion.revoked:
            awards.revoke(session, ctx, p, assertion, _text(reason, "reason", 2000) or "a step of the path was revoked")
    completion.attention = None
    completion.attention_at = None
    session.flush()
    audit.record(
        session,
        p,
        "path.completion." + decision,
        "path",
        path.public_id,
        issuer_id=path.issuer_id,
        before=before,
        after={"recipient": completion.recipient},
    )
    return completion


def check_job(ctx: HubContext, run: jobs.JobRun) -> None:
    """The ``path.check`` job: for each award in ``payload["assertions"]`` (not revoked), complete every
    path it is a step of that its learner now completes (:func:`complete`), in one transaction, with
    one look-up of the paths per badge class and, per path, one of the learners' completions and one of
    their step awards. A re-run after a crash finds the completions made and does nothing more: the
    :class:`PathCompletion` row and the award's source key make each completion once."""
    ids = list(run.payload.get("assertions", []))
    with ctx.db.session_scope() as session:
        rows = session.scalars(
            select(Assertion).where(Assertion.id.in_(ids), Assertion.revoked.is_(False)).order_by(Assertion.id)
        ).all()
        badge_ids = {a.badge_class_id for a in rows if a.recipient_plain}
        if not badge_ids:
            return
        as_step = select(PathStep.path_id).where(PathStep.badge_class_id.in_(badge_ids))
        found = session.scalars(
            select(Path).where(Path.id.in_(as_step)).options(selectinload(Path.steps), selectinload(Path.groups))
        ).all()
        for path in found:
            steps = set(paths.step_ids(path))
            triggers: dict[str, Assertion] = {}
            for a in rows:
                if a.recipient_plain and a.badge_class_id in steps:
                    triggers.setdefault(a.recipient_plain, a)
            done = set(
                session.scalars(
                    select(PathCompletion.recipient).where(
                        PathCompletion.path_id == path.id, PathCompletion.recipient.in_(list(triggers))
                    )
                )
            )
            todo = [email for email in triggers if email not in done]
            held = paths.holdings(session, todo, list(steps))
            for email in todo:
                state = paths.progress(session, path, email, held=held.get(email, {}))
                if state.complete:
                    complete(session, ctx, path, triggers[email], state)


jobs.register(path_jobs.KIND, check_job, max_attempts=8)
