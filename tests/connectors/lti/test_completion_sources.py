"""Every completion source feeds the LTI course rule (issue 14).

One served "Moodle" answers both as the LTI platform (launches, NRPS, AGS) and as Moodle's REST web
services (the contract double built from the recorded Moodle 5.1 responses), at one site address, so
the LTI course (context id 2) and the Moodle course (id 2) are one course. The course's rule "when the
platform reports that the learner completed the course" fires once, whichever of the plugin's webhook,
the Moodle sync and the completions API reports the completion first.
"""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import requests
from flask import request
from sqlalchemy import select

from hub.badges.models import Assertion, BadgeClass
from hub.connections.services import create_connector
from hub.inbox.models import InboundEvent
from tests.conftest import SECRET, SHARED_REF, signed_headers

from .conftest import ADMIN, World, make_badges, make_members
from .platform import Platform, Served, create_platform_app, forms

MOODLE_REF = SHARED_REF / "moodle"


@pytest.fixture
def moodle_world(hub_server):
    """The hub, and one Moodle site serving LTI and its web services; registered and assigned to an issuer."""
    if not (MOODLE_REF / "ws_site_info.json").exists():
        pytest.skip(f"recorded Moodle responses not found at {MOODLE_REF} (../shared/ref/moodle)")
    from tests.moodle_bridge.moodle_fake import FakeMoodle

    app, url = hub_server
    p = Platform(tool_base=url)
    fake = FakeMoodle.from_recordings(MOODLE_REF)
    platform_app = create_platform_app(p)
    platform_app.add_url_rule(
        "/webservice/rest/server.php", "rest", lambda: fake.handle(request), methods=["GET", "POST"]
    )
    served = Served(platform_app)
    p.base = fake.site_url = served.url
    p.make_registration()
    make_members(p)
    badges = make_badges(app.extensions["hub"])
    r = requests.post(
        f"{url}/api/v1/lti/registrations", json=p.hub_registration(badge_issuer=badges.issuer), headers=ADMIN
    )
    assert r.status_code == 201, r.text
    world = World(app, url, p, badges)
    world.fake = fake  # type: ignore[attr-defined]
    yield world
    served.stop()


def _completion_rule(world) -> None:
    """The teacher links the "safe" badge and picks the completion rule."""
    teacher = world.browser()
    page = teacher.launch(world.platform, "10")
    for action, fields in (
        ("/lti/course/link", {"badge": world.badges["safe"]}),
        ("/lti/course/rule", {"rule": "completion"}),
    ):
        form = next(f for f in forms(page) if f["action"].endswith(action))
        page = teacher.http.post(form["action"], data={**form["fields"], **fields}, timeout=20)
        assert page.status_code == 200, page.text


def _push_connector(world, *, issuer_public_id: str | None = None) -> str:
    """The Moodle plugin's webhook connector (the plugin's mapping); returns its slug."""
    from hub.badges.models import Issuer
    from moodle_bridge.events import WEBHOOK_MAPPING

    ctx = world.ctx
    slug = f"moodle-push-{uuid.uuid4().hex[:6]}"
    with ctx.db.session_scope() as s:
        issuer_id = None
        if issuer_public_id:
            issuer_id = s.scalar(select(Issuer.id).where(Issuer.public_id == issuer_public_id))
        create_connector(
            s, ctx, slug=slug, kind="webhooks", name="Moodle push", config={"mapping": WEBHOOK_MAPPING},
            secret=SECRET, issuer_id=issuer_id,
        )  # fmt: skip
    return slug


def _plugin_payload(world, user_id: int = 4) -> dict:
    """What the plugin sends when Łukasz (Moodle user 4) completes course 2 (moodle_bridge.events)."""
    from moodle_bridge.client import Course, EnrolledUser
    from moodle_bridge.events import completion_payload

    return completion_payload(
        site_url=world.platform.base,
        course=Course(
            id=2, shortname="SEC101", fullname="Bezpieczeństwo w sieci", idnumber="SEC-101", enablecompletion=True
        ),
        user=EnrolledUser(
            id=user_id, email="Lukasz.Wojcik@Example.org", firstname="Łukasz", lastname="Wójcik",
            fullname="Łukasz Wójcik", idnumber="S-001",
        ),
        timecompleted=1795940000,
    )  # fmt: skip


def _push(world, slug: str, payload: dict) -> requests.Response:
    body = json.dumps(payload, ensure_ascii=False)
    return requests.post(f"{world.hub}/hooks/{slug}", data=body.encode(), headers=signed_headers(body), timeout=20)


def _sync(world) -> None:
    """The Moodle site connector of the same site syncs course 2 (its token is the recorded one)."""
    from moodle_bridge.sync import sync_connector

    ctx = world.ctx
    with ctx.db.session_scope() as s:
        create_connector(
            s, ctx, slug="moodle-site", kind="moodle", name="Moodle",
            config={"site_url": world.platform.base, "course_ids": [2], "competencies": False},
            secret="good-token",
        )  # fmt: skip
    report = sync_connector(ctx, "moodle-site")
    assert report.submitted == 1, report
    ctx_runner = world.app.extensions["hub.jobs"]
    ctx_runner.drain()


def _awards(world) -> list[tuple[str, str]]:
    with world.ctx.db.session_scope() as s:
        return list(
            s.execute(
                select(Assertion.source_key, Assertion.recipient_plain)
                .join(BadgeClass, Assertion.badge_class_id == BadgeClass.id)
                .where(BadgeClass.public_id == world.badges["safe"])
            ).all()
        )


def _api_completion(world, sub: str = "4") -> requests.Response:
    body = {
        "registration": world.registration_id(),
        "context_id": "2",
        "sub": sub,
        "email": "lukasz.wojcik@example.org",
    }
    return requests.post(f"{world.hub}/api/v1/lti/completions", json=body, headers=ADMIN, timeout=20)


def test_the_plugin_push_fires_the_lti_course_rule_once_then_sync_and_api_add_nothing(moodle_world):
    world = moodle_world
    _completion_rule(world)
    slug = _push_connector(world)
    r = _push(world, slug, _plugin_payload(world))
    assert r.status_code in (200, 202), r.text
    expected = (f"lti:{world.platform.iss}:2:4:completed", "lukasz.wojcik@example.org")
    assert _awards(world) == [expected]
    # The Moodle event itself earned nothing of its own connector and says where it went.
    with world.ctx.db.session_scope() as s:
        pushed = s.scalar(select(InboundEvent).where(InboundEvent.external_id.like("msg_%")))
        assert pushed.status == "processed" and "handed on to lti-" in pushed.reason
    _sync(world)  # the sync finds the same completion in Moodle's web services
    assert _awards(world) == [expected]
    r = _api_completion(world)
    assert r.status_code == 200 and r.json()["duplicate"] is True
    assert _awards(world) == [expected]
    # The learner sees it in the course.
    mine = world.browser().launch(world.platform, "4")
    assert "Bezpieczny w sieci" in mine.text.split("Earned")[1].split("Still to earn")[0]


def test_the_api_first_then_the_sync_and_the_push_add_nothing(moodle_world):
    world = moodle_world
    _completion_rule(world)
    assert _api_completion(world).status_code == 202
    assert len(_awards(world)) == 1
    _sync(world)
    r = _push(world, _push_connector(world), _plugin_payload(world))
    assert r.status_code in (200, 202), r.text
    assert len(_awards(world)) == 1
    with world.ctx.db.session_scope() as s:
        lti_events = s.scalars(select(InboundEvent).where(InboundEvent.external_id.like("lti:%"))).all()
        assert len(lti_events) == 1 and lti_events[0].status == "processed"


def test_the_sync_first_and_a_course_under_another_rule_gets_nothing(moodle_world):
    world = moodle_world
    _sync(world)  # before the teacher chose the completion rule: not the LTI course's completion
    assert _awards(world) == []
    _completion_rule(world)
    r = _push(world, _push_connector(world), _plugin_payload(world, user_id=5))  # Zofia, user 5
    assert r.status_code in (200, 202)
    assert [k for k, _email in _awards(world)] == [f"lti:{world.platform.iss}:2:5:completed"]


def test_a_connector_of_another_issuer_cannot_fire_the_course_rule(moodle_world, caplog):
    world = moodle_world
    _completion_rule(world)
    other = make_badges(world.ctx, name="Inna szkoła")
    caplog.set_level(logging.WARNING, logger="connectors.lti")
    r = _push(world, _push_connector(world, issuer_public_id=other.issuer), _plugin_payload(world))
    assert r.status_code in (200, 202)
    assert _awards(world) == []
    assert any("another issuer" in rec.getMessage() for rec in caplog.records)
