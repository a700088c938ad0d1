"""Platforms belong to issuers (issue 14), over real HTTP with the lti1p3platform platform: a teacher of
platform A (assigned to issuer A) reaches none of issuer B's badge classes or awards on any LTI route;
an LTI award goes through the one award operation (audit entry ``via`` ``lti``, the learner's e-mail);
a registration without an issuer refuses teachers until one is assigned; grade syncs are scheduled jobs."""

from __future__ import annotations

import logging

import requests

from hub.accounts.models import AuditEntry
from hub.badges.models import Assertion, BadgeClass
from hub.learners.mail import mailer_for
from hub.learners.models import Notification

from .conftest import ADMIN, make_badges
from .platform import forms
from .test_flow import _form, _post


def _other_issuer(world):
    """Issuer B with its own two badge classes, and one of B's awards that looks as if it had been made in
    A's course before platforms belonged to issuers (same source-key prefix)."""
    from connectors.lti.models import LtiContext, LtiContextBadge
    from connectors.lti.services import source_key
    from connectors.types import PlatformUser
    from hub.badges import services as badges

    ctx = world.ctx
    b = make_badges(ctx, name="Obca Szkoła")
    with ctx.db.session_scope() as s:
        badge = s.query(BadgeClass).filter_by(public_id=b["safe"]).one()
        context = s.query(LtiContext).filter_by(context_id=world.platform.context_id).one()
        # A link made before the fix (the picker then listed every badge class in the hub).
        s.add(LtiContextBadge(context=context, badge_class=badge))
        award = badges.award(
            s,
            ctx,
            badge,
            PlatformUser(email="zofia@example.org", name="Zofia Gęśla"),
            source_key=source_key(world.platform.iss, world.platform.context_id, "5", badge),
        )
        b["assertion"] = award.assertion.public_id
    return b


def _assertions(world, badge_public_id: str) -> list[Assertion]:
    with world.ctx.db.session_scope() as s:
        rows = s.query(Assertion).join(BadgeClass).filter(BadgeClass.public_id == badge_public_id).all()
        s.expunge_all()
        return rows


def test_a_teacher_of_platform_a_reaches_nothing_of_issuer_b(world, caplog):
    from connectors.lti.models import LtiContextBadge

    teacher = world.browser()
    # A placement naming B's badge class (a forged or copied deep link) links nothing.
    page = teacher.launch(world.platform, "10")
    assert page.status_code == 200
    b = _other_issuer(world)
    page = teacher.launch(world.platform, "10", custom={"badge_class": b["passwords"]})
    assert page.status_code == 200
    caplog.set_level(logging.WARNING, logger="connectors.lti")

    # Course page: A's badge classes offered, none of B's (not even the legacy link, nor B's award).
    for pid in (b["safe"], b["passwords"], b["assertion"]):
        assert pid not in page.text
    assert world.badges["safe"] in page.text and world.badges["passwords"] in page.text

    # Deep-link picker: only A's; choosing B's is refused.
    picker = teacher.launch(world.platform, "10", kind="deeplink")
    assert world.badges["safe"] in picker.text and b["safe"] not in picker.text and b["passwords"] not in picker.text
    choice = next(f for f in forms(picker) if f["fields"].get("badge") == world.badges["safe"])
    refused = teacher.http.post(choice["action"], data={**choice["fields"], "badge": b["passwords"]}, timeout=20)
    assert refused.status_code == 404 and not world.platform.deep_link_items

    # Link, unlink, award (from the roster, with scores to the gradebook), revoke: 404.
    page = _post(teacher, page, "/lti/course/rule", rule="manual", post_scores="1")
    assert "Award rule saved." in page.text
    launch_id = _form(page, "/lti/course/link")["fields"]["launch"]
    hub = world.hub
    for path, data in (
        ("/lti/course/link", {"badge": b["passwords"]}),
        ("/lti/course/unlink", {"badge": b["safe"]}),
        ("/lti/course/award", {"badge": b["safe"], "member": ["4", "5"]}),
        ("/lti/course/revoke", {"assertion": b["assertion"], "reason": "x"}),
    ):
        r = teacher.http.post(f"{hub}{path}", data={"launch": launch_id, **data}, timeout=20)
        assert r.status_code == 404, (path, r.status_code)
        assert b["passwords"] not in r.text and b["assertion"] not in r.text
    assert [a.recipient_plain for a in _assertions(world, b["safe"])] == ["zofia@example.org"]  # only the old one
    assert not _assertions(world, b["passwords"])
    assert not any(a.revoked for a in _assertions(world, b["safe"]))
    assert world.platform.scores == [] and world.platform.lineitems == {}  # nothing sent to the gradebook
    with world.ctx.db.session_scope() as s:
        kept = {link.badge_class.public_id for link in s.query(LtiContextBadge).all()}
    assert kept == {b["safe"]}  # the legacy link stays stored; the placement's B badge was not linked
    assert any("is not of lti:" in r.getMessage() for r in caplog.records)

    # The grade sync awards A's linked badges only.
    page = _post(teacher, page, "/lti/course/link", badge=world.badges["passwords"])
    page = _post(teacher, page, "/lti/course/rule", rule="grade", threshold="60")
    assert "Award rule saved." in page.text, page.text
    world.platform.results["1"] = {"4": 80, "5": 90}
    page = _post(teacher, page, "/lti/course/sync")
    assert "Grade check started" in page.text and "Last grade check" in page.text
    assert "2 awarded, 0 below the threshold" in page.text
    assert {a.recipient_plain for a in _assertions(world, world.badges["passwords"])} == {
        "lukasz.wojcik@example.org",
        "zofia@example.org",
    }
    assert [a.recipient_plain for a in _assertions(world, b["safe"])] == ["zofia@example.org"]

    # Learner view of course badges: A's to earn; B's (linked before) neither to earn nor as a course badge.
    page = _post(teacher, page, "/lti/course/link", badge=world.badges["safe"])
    mine = world.browser().launch(world.platform, "4")
    assert mine.status_code == 200 and f'data-badge="{world.badges["safe"]}"' in mine.text
    assert b["safe"] not in mine.text and b["passwords"] not in mine.text


def test_an_lti_award_is_audited_and_mailed_and_its_revocation_audited(world):
    outbox = mailer_for(world.ctx.settings).sent
    outbox.clear()
    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    page = _post(teacher, page, "/lti/course/link", badge=world.badges["safe"])
    form = _form(page, "/lti/course/award")
    r = teacher.http.post(
        form["action"], data={"launch": form["fields"]["launch"], "badge": world.badges["safe"], "member": "4"}
    )
    assert "Badges awarded: 1." in r.text
    (award,) = _assertions(world, world.badges["safe"])
    reg_id = world.registration_id()
    with world.ctx.db.session_scope() as s:
        (entry,) = s.query(AuditEntry).filter_by(action="assertion.create").all()
        assert (entry.via, entry.actor, entry.object_id) == ("lti", f"lti:{reg_id}", award.public_id)
        assert entry.after["source"].startswith(f"lti:{world.platform.iss}:")
        (mail_row,) = s.query(Notification).filter_by(assertion_id=award.id).all()
        assert (mail_row.kind, mail_row.status) == ("award", "sent")
    (mail,) = list(outbox)
    assert mail.to == "lukasz.wojcik@example.org" and "Bezpieczny w sieci" in mail.subject

    revoke = next(f for f in forms(r) if f["action"].endswith("/lti/course/revoke"))
    done = teacher.http.post(revoke["action"], data={**revoke["fields"], "reason": "Pomyłka"})
    assert "Badge revoked." in done.text
    with world.ctx.db.session_scope() as s:
        (entry,) = s.query(AuditEntry).filter_by(action="assertion.revoke").all()
        assert (entry.via, entry.actor) == ("lti", f"lti:{reg_id}")
        assert entry.before["revoked"] is False and entry.after["revocation_reason"] == "Pomyłka"


def test_a_platform_without_an_issuer_refuses_teachers_until_assigned(world, caplog):
    """A registration of a database migrated from before issuers were assigned: launches work, learners
    see their badges, teachers get a clear page; the administrator assigns an issuer and it works."""
    from connectors.lti.models import LtiRegistration

    with world.ctx.db.session_scope() as s:
        s.query(LtiRegistration).one().issuer_id = None
    caplog.set_level(logging.WARNING, logger="connectors.lti")
    teacher = world.browser()
    for params in ({}, {"kind": "deeplink"}):
        page = teacher.launch(world.platform, "10", **params)
        assert page.status_code == 403, params
        assert "This platform is not yet assigned to an issuer; ask the hub administrator." in page.text
        assert world.badges["safe"] not in page.text
    assert any("is not assigned to an issuer" in r.getMessage() for r in caplog.records)
    assert world.platform.roster_reads == 0  # refused before any platform call
    assert world.browser().launch(world.platform, "4").status_code == 200  # learners still see their badges

    world.platform.locale = "pl-PL"
    polish = world.browser().launch(world.platform, "10")
    assert "Ta platforma nie została jeszcze przypisana do wystawcy" in polish.text
    world.platform.locale = "en"

    reg_id = world.registration_id()
    shown = requests.get(f"{world.hub}/api/v1/lti/registrations/{reg_id}", headers=ADMIN, timeout=10).json()
    assert shown["badge_issuer"] is None
    r = requests.patch(
        f"{world.hub}/api/v1/lti/registrations/{reg_id}",
        json={"badge_issuer": world.badges.issuer},
        headers=ADMIN,
        timeout=10,
    )
    assert r.status_code == 200 and r.json()["badge_issuer"] == world.badges.issuer
    page = world.browser().launch(world.platform, "10")
    assert page.status_code == 200 and world.badges["safe"] in page.text
    unknown = requests.patch(
        f"{world.hub}/api/v1/lti/registrations/{reg_id}",
        json={"badge_issuer": "00000000-0000-4000-8000-000000000000"},
        headers=ADMIN,
        timeout=10,
    )
    assert unknown.status_code == 422 and unknown.json()["field"] == "badge_issuer"


def test_approval_and_manual_registration_require_an_issuer(hub_server, platform_server):
    app, hub = hub_server
    body = platform_server.hub_registration()
    r = requests.post(f"{hub}/api/v1/lti/registrations", json=body, headers=ADMIN, timeout=10)
    assert r.status_code == 422 and r.json()["field"] == "badge_issuer"
    ids = make_badges(app.extensions["hub"])
    r = requests.post(
        f"{hub}/api/v1/lti/registrations", json={**body, "badge_issuer": ids.issuer}, headers=ADMIN, timeout=10
    )
    assert r.status_code == 201 and r.json()["badge_issuer_name"] == "Szkoła Łódź"
    reg_id = r.json()["id"]
    runner = app.test_cli_runner()
    assert runner.invoke(args=["lti", "deactivate", reg_id]).exit_code == 0
    with app.extensions["hub"].db.session_scope() as s:
        from connectors.lti.models import LtiRegistration

        s.query(LtiRegistration).one().issuer_id = None
    refused = runner.invoke(args=["lti", "approve", reg_id])
    assert refused.exit_code != 0 and "Choose the issuer" in refused.output
    assert runner.invoke(args=["lti", "approve", reg_id, "--issuer", ids.issuer]).exit_code == 0
    doc = requests.get(f"{hub}/api/v1/lti/registrations/{reg_id}", headers=ADMIN, timeout=10).json()
    assert doc["status"] == "active" and doc["badge_issuer"] == ids.issuer


def test_grade_syncs_are_scheduled_jobs(world):
    """The runner's schedule enqueues one ``lti.grade_sync`` per course with the grade rule; the job awards
    through the one award operation; a second look in the same interval adds nothing."""
    from hub import jobs
    from hub.jobs.models import Job

    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    page = _post(teacher, page, "/lti/course/link", badge=world.badges["passwords"])
    page = _post(teacher, page, "/lti/course/rule", rule="grade", threshold="60")
    world.platform.results["1"] = {"4": 80, "5": 40}
    ctx = world.ctx
    assert jobs.schedule_due(ctx) == 1
    assert jobs.schedule_due(ctx) == 0  # the same slot: deduplicated
    world.app.extensions["hub.jobs"].drain()
    with ctx.db.session_scope() as s:
        (job,) = s.query(Job).filter_by(kind="lti.grade_sync").all()
        assert job.status == "done" and job.progress["awarded"] == 1 and job.progress["below"] == 1
        (entry,) = s.query(AuditEntry).filter_by(action="assertion.create").all()
        assert entry.via == "lti"
    assert [a.recipient_plain for a in _assertions(world, world.badges["passwords"])] == ["lukasz.wojcik@example.org"]
    launch_id = _form(page, "/lti/course/link")["fields"]["launch"]
    page = teacher.http.get(f"{world.hub}/lti/course", params={"launch": launch_id})
    assert "1 awarded, 1 below the threshold" in page.text and "every 15 minutes" in page.text

    world.platform.results["1"]["5"] = 70  # the CLI still checks every course inline
    out = world.app.test_cli_runner().invoke(args=["lti", "sync-grades"])
    assert out.exit_code == 0 and ": 1 awarded, 0 below threshold" in out.output, out.output
    assert len(_assertions(world, world.badges["passwords"])) == 2

    off = world.app.extensions["hub"].settings.with_(lti_grade_sync_minutes=0)
    from connectors.lti.jobs import grade_sync_targets

    with ctx.db.session_scope() as s:
        assert list(grade_sync_targets(s, type("C", (), {"settings": off})())) == []
        assert len(list(grade_sync_targets(s, ctx))) == 1


def test_moving_a_platform_to_another_issuer(world):
    """The course's completion rules for the old issuer's badges are turned off, the registration's
    connector follows, and the course page offers the new issuer's badge classes only."""
    from hub.badges.models import Issuer
    from hub.connections.models import ConnectorConfig
    from hub.rules.models import AwardRule

    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    page = _post(teacher, page, "/lti/course/link", badge=world.badges["safe"])
    page = _post(teacher, page, "/lti/course/rule", rule="completion")
    with world.ctx.db.session_scope() as s:
        assert [r.enabled for r in s.query(AwardRule).all()] == [True]
    b = make_badges(world.ctx, name="Obca Szkoła")
    reg_id = world.registration_id()
    r = requests.patch(
        f"{world.hub}/api/v1/lti/registrations/{reg_id}", json={"badge_issuer": b.issuer}, headers=ADMIN, timeout=10
    )
    assert r.status_code == 200 and r.json()["badge_issuer_name"] == "Obca Szkoła"
    with world.ctx.db.session_scope() as s:
        assert [r.enabled for r in s.query(AwardRule).all()] == [False]
        (connector,) = s.query(ConnectorConfig).filter_by(kind="lti").all()
        assert connector.issuer_id == s.query(Issuer).filter_by(public_id=b.issuer).one().id
        (entry,) = s.query(AuditEntry).filter_by(action="lti_registration.assign").all()
        assert entry.before == {"badge_issuer": world.badges.issuer} and entry.after == {"badge_issuer": b.issuer}
    page = world.browser().launch(world.platform, "10")
    assert b["safe"] in page.text and world.badges["safe"] not in page.text
