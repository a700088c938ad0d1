"""Development paths: progress, completion and the checks that keep a path sound.

A learner (the e-mail their awards name) holds a step when they have a valid award of its badge class:
not revoked, not expired. A path is complete when every required step is held and every "N of these
M" group has ``need`` of its steps held; optional steps never hold it back. The completion badge is
awarded by the ``path.check`` job (:func:`hub.operations.paths.check_job`), which the award operation enqueues in the
transaction of each award of a step badge (one job per inbox batch), so it runs after that award has
committed, whichever door it came by; it awards through :func:`hub.operations.awards.award` (audited,
e-mailed, told to webhook subscribers) with the source key ``path:<path>:<learner>`` and a
:class:`hub.paths.models.PathCompletion` row unique per path and learner, so a completion is awarded
once however many jobs look.

Revoking a step badge never revokes the completion badge: :func:`note_revoked` marks the completion
for an administrator's decision (console notice, :func:`hub.operations.paths.resolve_completion`).

Other issuers' badges: a path that ``accept_other_issuers`` may have other issuers' badge classes as
steps; verified imported badges (collected from other hosts) will count through
:data:`EXTERNAL_HOLDINGS` once the hub collects them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hub.badges.models import Assertion, BadgeClass
from hub.badges.recipient import normalise_email
from hub.db import utcnow
from hub.errors import ValidationError
from hub.i18n import lazy as _l
from hub.paths.models import Path, PathCompletion, PathStep

_STEP_IDS = "hub.path_step_badges"

DONE, EXPIRED, MISSING, DELETED = "done", "expired", "missing", "deleted"

#: Hooks that say whether a learner holds a step by other means than an award of this hub: each is
#: ``hook(session, email, step) -> datetime | None`` (when it was earned). The collecting of verified
#: imported badges plugs in here; none is installed yet.
EXTERNAL_HOLDINGS: list[Callable[[Session, str, PathStep], datetime | None]] = []


@dataclass
class StepState:
    """One step for one learner: ``state`` is ``done``, ``expired`` (held, but expired on ``expires``:
    earn it again), ``missing`` or ``deleted`` (its badge class no longer exists)."""

    step: PathStep
    state: str
    assertion: Assertion | None = None
    expires: datetime | None = None


@dataclass
class Progress:
    """A learner's progress on a path: ``steps`` (in order), ``complete``, ``next`` (steps to earn next:
    the first missing required one of an ordered path, every missing one that counts otherwise),
    ``groups`` (``(group, held, need)``) and ``done``/``needed`` counts for a progress bar."""

    path: Path
    steps: list[StepState]
    complete: bool
    next: list[StepState] = field(default_factory=list)
    groups: list[tuple] = field(default_factory=list)
    done: int = 0
    needed: int = 0


def step_badge_ids(session: Session) -> frozenset[int]:
    """Ids of badge classes that are a step of some path (cached for the transaction)."""
    found = session.info.get(_STEP_IDS)
    if found is None:
        found = session.info[_STEP_IDS] = frozenset(
            session.scalars(select(PathStep.badge_class_id).where(PathStep.badge_class_id.is_not(None)).distinct())
        )
    return found


def forget_cache(session: Session) -> None:
    """Drop the cached step list (after a path changed in this transaction)."""
    session.info.pop(_STEP_IDS, None)


def holdings(session: Session, emails: Iterable[str], badge_ids: list[int]) -> dict[str, dict[int, Assertion]]:
    """Each learner's best award of each of ``badge_ids`` (one query for all of them): ``{email:
    {badge_class_id: Assertion}}``, not revoked; of several, the one valid longest (no expiry first)."""
    emails = list(emails)
    if not badge_ids or not emails:
        return {}
    rows = session.scalars(
        select(Assertion).where(
            Assertion.recipient_plain.in_(emails),
            Assertion.badge_class_id.in_(badge_ids),
            Assertion.revoked.is_(False),
        )
    ).all()
    out: dict[str, dict[int, Assertion]] = {}
    for a in rows:
        best = out.setdefault(a.recipient_plain or "", {})
        held = best.get(a.badge_class_id)
        if held is None or (held.expires is not None and (a.expires is None or a.expires > held.expires)):
            best[a.badge_class_id] = a
    return out


def step_ids(path: Path) -> list[int]:
    """The badge class ids of ``path``'s steps (deleted ones left out)."""
    return [s.badge_class_id for s in path.steps if s.badge_class_id is not None]


def progress(
    session: Session, path: Path, email: str, *, now: datetime | None = None, held: dict[int, Assertion] | None = None
) -> Progress:
    """``email``'s progress on ``path`` (see :class:`Progress`); ``held``: their awards of the steps'
    badge classes, when the caller looked them up already (:func:`holdings`)."""
    now = now or utcnow()
    email = normalise_email(email)
    if held is None:
        held = holdings(session, [email], step_ids(path)).get(email, {})
    states = []
    for step in path.steps:
        if step.badge_class_id is None:
            states.append(StepState(step, DELETED))
            continue
        a = held.get(step.badge_class_id)
        if a is None:
            earned = next((w for w in (h(session, email, step) for h in EXTERNAL_HOLDINGS) if w), None)
            states.append(StepState(step, DONE if earned else MISSING))
        elif a.expires is not None and a.expires <= now:
            states.append(StepState(step, EXPIRED, a, a.expires))
        else:
            states.append(StepState(step, DONE, a, a.expires))
    required = [s for s in states if s.step.required and s.step.group_id is None]
    complete = bool(path.steps) and all(s.state == DONE for s in required)
    groups = []
    done = sum(1 for s in required if s.state == DONE)
    needed = len(required)
    for group in path.groups:
        members = [s for s in states if s.step.group_id == group.id]
        have = sum(1 for s in members if s.state == DONE)
        groups.append((group, have, group.need))
        complete = complete and have >= group.need
        done += min(have, group.need)
        needed += group.need
    counting = [s for s in states if s.state != DONE and s.state != DELETED and _counts(s, groups)]
    if path.ordered:
        first = next((s for s in counting if s.step.required or s.step.group_id is not None), None)
        nxt = [first] if first else []
    else:
        nxt = counting
    return Progress(path, states, complete, nxt, groups, done, needed)


def _counts(s: StepState, groups: list[tuple]) -> bool:
    if s.step.group_id is None:
        return s.step.required
    return any(g.id == s.step.group_id and have < need for g, have, need in groups)


def paths_of_badge(session: Session, badge_class_id: int) -> list[Path]:
    """Paths that have ``badge_class_id`` as a step, or as their completion badge."""
    as_step = select(PathStep.path_id).where(PathStep.badge_class_id == badge_class_id)
    return list(
        session.scalars(
            select(Path)
            .where((Path.id.in_(as_step)) | (Path.completion_badge_id == badge_class_id))
            .options(selectinload(Path.steps))
            .order_by(Path.id)
        )
    )


def learner_paths(session: Session, emails: Iterable[str]) -> list[Progress]:
    """Progress on every path where one of ``emails`` holds at least one step badge (or its completion
    badge), for the learner's portfolio and the LTI learner view."""
    emails = [normalise_email(e) for e in emails if e]
    if not emails:
        return []
    held = select(Assertion.badge_class_id).where(Assertion.recipient_plain.in_(emails), Assertion.revoked.is_(False))
    paths = session.scalars(
        select(Path)
        .where(Path.id.in_(select(PathStep.path_id).where(PathStep.badge_class_id.in_(held))))
        .options(selectinload(Path.steps), selectinload(Path.groups), selectinload(Path.completion_badge))
        .order_by(Path.name)
    ).all()
    out = []
    for path in paths:
        best = max((progress(session, path, e) for e in emails), key=lambda p: (p.complete, p.done))
        out.append(best)
    return out


# ---- soundness ------------------------------------------------------------------------------------


def leads_to(session: Session, start: int, target: int) -> bool:
    """Whether badge class ``start`` leads (as a step of a path whose completion badge leads on, ...)
    to badge class ``target``: adding ``target`` as a step towards ``start`` would make a cycle."""
    edges: dict[int, set[int]] = {}
    for step_badge, completion in session.execute(
        select(PathStep.badge_class_id, Path.completion_badge_id).join(Path, Path.id == PathStep.path_id)
    ):
        if step_badge is not None:
            edges.setdefault(step_badge, set()).add(completion)
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node == target:
            return True
        if node in seen:
            continue
        seen.add(node)
        todo.extend(edges.get(node, ()))
    return False


def check_step(session: Session, path: Path, badge: BadgeClass) -> None:
    """Refuse a step that would be wrong for ``path``.

    Raises:
        ValidationError: (field ``badge_class``) the badge is the path's completion badge, or earning
            the completion badge leads (through other paths) to this badge: a cycle, the path would need
            its own completion badge; another issuer's badge while the path does not accept them; the
            badge is a step already.
    """
    if badge.id == path.completion_badge_id or leads_to(session, path.completion_badge_id, badge.id):
        raise ValidationError(
            _l(
                "„%(badge)s” cannot be a step: earning this path's completion badge leads to it, so the path "
                "would need its own completion badge (a cycle)",
                badge=badge.name,
            ),
            field="badge_class",
        )
    if badge.issuer_id != path.issuer_id and not path.accept_other_issuers:
        raise ValidationError(
            _l(
                "„%(badge)s” is another issuer's badge; allow other issuers' badges on this path first",
                badge=badge.name,
            ),
            field="badge_class",
        )
    if any(s.badge_class_id == badge.id for s in path.steps):
        raise ValidationError(_l("„%(badge)s” is a step of this path already", badge=badge.name), field="badge_class")


def check_completion_badge(session: Session, path: Path, badge: BadgeClass) -> None:
    """Refuse a completion badge of another issuer, or one that is a step (directly or through other
    paths) of the path itself.

    Raises:
        ValidationError: (field ``completion_badge``).
    """
    if badge.issuer_id != path.issuer_id:
        raise ValidationError(_l("the completion badge must be the path issuer's own badge"), field="completion_badge")
    for step in path.steps:
        if step.badge_class_id is not None and (
            step.badge_class_id == badge.id or leads_to(session, badge.id, step.badge_class_id)
        ):
            raise ValidationError(
                _l("this completion badge leads to a step of the path itself (a cycle)"), field="completion_badge"
            )


def problems(session: Session, path: Path) -> list:
    """Readable problems of a path for the console: no steps, deleted steps, groups needing more steps
    than they have, a completion badge that expires."""
    out: list = []
    if not path.steps:
        out.append(_l("the path has no steps yet; nobody can complete it"))
    for step in path.steps:
        if step.badge_class_id is None:
            out.append(
                _l("the step „%(badge)s” was deleted; remove it or the path cannot be completed", badge=step.badge_name)
            )
    for group in path.groups:
        size = sum(1 for s in path.steps if s.group_id == group.id)
        if size < group.need:
            out.append(
                _l(
                    "group „%(group)s” needs %(need)s steps but has %(size)s",
                    group=group.name,
                    need=group.need,
                    size=size,
                )
            )
    return out


# ---- completion ----------------------------------------------------------------------------------


def note_revoked(session: Session, assertion: Assertion) -> list[PathCompletion]:
    """A step award was revoked: mark the learner's completions of paths with that step for an
    administrator's decision (the completion badge stays). Returns the completions marked."""
    if assertion.badge_class_id not in step_badge_ids(session) or not assertion.recipient_plain:
        return []
    paths = select(PathStep.path_id).where(PathStep.badge_class_id == assertion.badge_class_id)
    found = session.scalars(
        select(PathCompletion).where(
            PathCompletion.path_id.in_(paths), PathCompletion.recipient == assertion.recipient_plain
        )
    ).all()
    for completion in found:
        completion.attention = (
            f"step „{assertion.badge_class.name}” ({assertion.public_id}) was revoked: "
            f"{assertion.revocation_reason or ''}".strip()
        )
        completion.attention_at = utcnow()
    session.flush()
    return list(found)


def completion_of(session: Session, path: Path, email: str) -> PathCompletion | None:
    return session.scalar(
        select(PathCompletion).where(
            PathCompletion.path_id == path.id, PathCompletion.recipient == normalise_email(email)
        )
    )
