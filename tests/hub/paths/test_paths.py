"""Development paths: the completion badge follows by itself once, whichever door the last step came
by (webhook, by hand, bulk CSV), audited and e-mailed; "N of these M" groups and optional steps;
revoking a step leaves the completion for the administrator; cycles, deleted and expired steps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from hub.accounts.access import Principal
from hub.accounts.models import AuditEntry
from hub.badges import services as badges
from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.db import utcnow
from hub.demo import badge_png
from hub.errors import ValidationError
from hub.learners.models import Notification
from hub.operations import actions
from hub.operations import paths as path_ops
from hub.paths import services as paths
from hub.paths.models import Path, PathCompletion, PathStep
from tests.conftest import completion, post_event

ADMIN = Principal(None, "admin@hub.test", site_admin=True)


def make_badges(ctx, issuer_public_id, *names, **kw) -> dict[str, str]:
    with ctx.db.session_scope() as s:
        issuer = s.scalar(select(Issuer).where(Issuer.public_id == issuer_public_id))
        return {
            n: badges.create_badge_class(
                s, ctx, issuer, name=n, description=f"{n} badge", image=badge_png(), **kw
            ).public_id
            for n in names
        }


def badge(s, public_id) -> BadgeClass:
    return s.scalar(select(BadgeClass).where(BadgeClass.public_id == public_id))


def build_path(ctx, issuer_public_id, completion_badge, *, required=(), group=(), need=1, optional=(), ordered=False):
    with ctx.db.session_scope() as s:
        issuer = s.scalar(select(Issuer).where(Issuer.public_id == issuer_public_id))
        path = path_ops.create_path(
            s, ctx, ADMIN, issuer, name="Ścieżka", completion_badge=badge(s, completion_badge), ordered=ordered
        )
        for b in required:
            path_ops.add_step(s, ADMIN, path, badge(s, b))
        if group:
            g = path_ops.add_group(s, ADMIN, path, name="wybór", need=need)
            for b in group:
                path_ops.add_step(s, ADMIN, path, badge(s, b), group=g)
        for b in optional:
            path_ops.add_step(s, ADMIN, path, badge(s, b), required=False)
        return path.public_id


def hand_award(ctx, badge_public_id, email, **kw):
    with ctx.db.session_scope() as s:
        return actions.award(s, ctx, ADMIN, badge(s, badge_public_id), email=email, **kw).assertion.public_id


def completions(ctx, completion_badge) -> list[Assertion]:
    with ctx.db.read_scope() as s:
        return s.scalars(select(Assertion).join(BadgeClass).where(BadgeClass.public_id == completion_badge)).all()


def test_completion_follows_once_from_mixed_doors(app, ctx, client, factory):
    ids = factory.setup()  # the webhook rule awards ids["badge"] for course ZGJ-101
    b = make_badges(ctx, ids["issuer"], "B", "C", "D", "X")
    path_id = build_path(ctx, ids["issuer"], b["X"], required=[ids["badge"]], group=[b["B"], b["C"]], optional=[b["D"]])
    email = "zofia.gesla@example.edu"

    hand_award(ctx, b["B"], email)  # by hand: 1 of the group, the required step missing
    assert completions(ctx, b["X"]) == []
    assert post_event(client, completion()).status_code == 202  # the webhook door brings the last step
    done = completions(ctx, b["X"])
    assert [(a.recipient_plain, a.source_key) for a in done] == [(email, f"path:{path_id}:{email}")]
    hand_award(ctx, b["C"], email)  # more steps later: no second completion badge
    hand_award(ctx, b["D"], email)
    assert len(completions(ctx, b["X"])) == 1
    with ctx.db.read_scope() as s:
        x = done[0]
        assert s.scalar(select(func.count()).where(Notification.assertion_id == x.id)) == 1  # e-mailed
        actions_ = s.scalars(select(AuditEntry.action).where(AuditEntry.object_id.in_([x.public_id, path_id]))).all()
        assert "assertion.create" in actions_ and "path.complete" in actions_
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "path.complete"))
        assert entry.actor == f"path:{path_id}" and entry.via == "path"
        assert len(x.evidence) == 2  # the steps that made it


def test_bulk_csv_brings_the_last_step(app, ctx, factory):
    from hub.operations import bulk

    ids = factory.setup()
    b = make_badges(ctx, ids["issuer"], "X")
    build_path(ctx, ids["issuer"], b["X"], required=[ids["badge"]])
    with ctx.db.session_scope() as s:
        rows, errors = bulk.parse_csv(
            f"email,name,badge\nola@example.org,Ola,{ids['badge']}\n".encode(), [badge(s, ids["badge"])]
        )
        assert not errors
    from hub.accounts.models import BulkJob, User

    with ctx.db.session_scope() as s:
        user = User(email="bulk@hub.test", password_hash="-", is_site_admin=True, active=True)
        s.add(user)
        s.flush()
        job = BulkJob(
            issuer_id=ids["issuer_id"], user_id=user.id, filename="a.csv", rows=rows, total=len(rows), status="preview"
        )
        s.add(job)
        s.flush()
        assert bulk.start(s, ctx, ADMIN, job, notify=False)
    assert [a.recipient_plain for a in completions(ctx, b["X"])] == ["ola@example.org"]


def test_revoking_a_step_leaves_the_completion_for_the_administrator(app, ctx, factory):
    ids = factory.setup()
    b = make_badges(ctx, ids["issuer"], "A", "X")
    build_path(ctx, ids["issuer"], b["X"], required=[b["A"]])
    step = hand_award(ctx, b["A"], "a@example.org")
    [x] = completions(ctx, b["X"])
    with ctx.db.session_scope() as s:
        actions.revoke(s, ctx, ADMIN, s.scalar(select(Assertion).where(Assertion.public_id == step)), "cheating")
    with ctx.db.session_scope() as s:
        c = s.scalar(select(PathCompletion))
        assert "cheating" in c.attention and step in c.attention
        assert not s.get(Assertion, x.id).revoked  # not silently revoked
        path_ops.resolve_completion(s, ctx, ADMIN, c, "revoke", "its step was revoked")
    with ctx.db.read_scope() as s:
        assert s.get(Assertion, x.id).revoked
        assert s.scalar(select(PathCompletion)).attention is None
    # a new award of the step does not award the completion again (decided once per learner)
    hand_award(ctx, b["A"], "a@example.org")
    assert len(completions(ctx, b["X"])) == 1


def test_cycles_are_refused_with_a_clear_message(app, ctx, factory):
    ids = factory.setup()
    b = make_badges(ctx, ids["issuer"], "A", "X", "Y")
    p1 = build_path(ctx, ids["issuer"], b["X"], required=[b["A"]])
    build_path(ctx, ids["issuer"], b["Y"], required=[b["X"]])  # stacking: X leads to Y
    with ctx.db.session_scope() as s:
        path = s.scalar(select(Path).where(Path.public_id == p1))
        with pytest.raises(ValidationError, match="cycle"):
            path_ops.add_step(s, ADMIN, path, badge(s, b["X"]))  # its own completion badge
        with pytest.raises(ValidationError, match="cycle"):
            path_ops.add_step(s, ADMIN, path, badge(s, b["Y"]))  # X leads to Y
        with pytest.raises(ValidationError, match="step of this path already"):
            path_ops.add_step(s, ADMIN, path, badge(s, b["A"]))


def test_stacked_paths_complete_in_turn(app, ctx, factory):
    ids = factory.setup()
    b = make_badges(ctx, ids["issuer"], "A", "X", "Y")
    build_path(ctx, ids["issuer"], b["X"], required=[b["A"]])
    build_path(ctx, ids["issuer"], b["Y"], required=[b["X"]])
    hand_award(ctx, b["A"], "a@example.org")
    assert len(completions(ctx, b["X"])) == 1 and len(completions(ctx, b["Y"])) == 1


def test_expired_and_deleted_steps_and_what_comes_next(app, ctx, factory):
    ids = factory.setup()
    b = make_badges(ctx, ids["issuer"], "A", "B", "X")
    e = make_badges(ctx, ids["issuer"], "E", expires_after_days=1)
    path_id = build_path(ctx, ids["issuer"], b["X"], required=[e["E"], b["A"], b["B"]], ordered=True)
    hand_award(ctx, e["E"], "a@example.org", issued_on=utcnow() - timedelta(days=3))  # already expired
    hand_award(ctx, b["A"], "a@example.org")
    with ctx.db.session_scope() as s:
        path = s.scalar(select(Path).where(Path.public_id == path_id))
        state = paths.progress(s, path, "A@example.org ")
        assert [x.state for x in state.steps] == [paths.EXPIRED, paths.DONE, paths.MISSING]
        assert not state.complete and [x.step.badge_name for x in state.next] == ["E"]
        assert paths.problems(s, path) == []
        s.execute(update(PathStep).where(PathStep.badge_name == "B").values(badge_class_id=None))  # deleted
        s.expire_all()
        path = s.scalar(select(Path).where(Path.public_id == path_id))
        assert paths.progress(s, path, "a@example.org").steps[2].state == paths.DELETED
        assert "„B” was deleted" in str(paths.problems(s, path)[0])
    assert completions(ctx, b["X"]) == []


def test_another_issuers_badge_only_where_accepted(app, ctx, factory):
    ids = factory.setup()
    b = make_badges(ctx, ids["issuer"], "X")
    with ctx.db.session_scope() as s:
        other = badges.create_issuer(s, ctx, name="Inny", url="https://inny.example.pl", email="o@inny.example.pl")
        theirs = badges.create_badge_class(s, ctx, other, name="Obcy", description="d", image=badge_png()).public_id
    path_id = build_path(ctx, ids["issuer"], b["X"])
    with ctx.db.session_scope() as s:
        path = s.scalar(select(Path).where(Path.public_id == path_id))
        with pytest.raises(ValidationError, match="another issuer"):
            path_ops.add_step(s, ADMIN, path, badge(s, theirs))
        path_ops.update_path(s, ctx, ADMIN, path, accept_other_issuers=True)
        path_ops.add_step(s, ADMIN, path, badge(s, theirs))
    hand_award(ctx, theirs, "a@example.org")
    assert len(completions(ctx, b["X"])) == 1
