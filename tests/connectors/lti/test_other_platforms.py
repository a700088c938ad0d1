"""The tool against Canvas, Brightspace and Blackboard shapes, over real HTTP (issue 14, "Other platforms").

The same lti1p3platform platform as the Moodle tests, with each platform's documented claims:

- Canvas (https://developerdocs.instructure.com/services/canvas/external-tools/lti/file.lti_launch_overview,
  ".../file.registration"): one issuer, ``https://canvas.instructure.com``, for every school, each
  school its own client id (developer key); ``lti_storage_target`` in the login initiation (1EdTech LTI
  Client Side postMessages); deployment ids ``<n>:<hash>``; ``CourseOffering`` contexts, institution
  and system roles beside the membership ones, ``https://www.instructure.com/placement``; its Dynamic
  Registration extension (``https://canvas.instructure.com/lti/...`` keys, placements, privacy level).
- Brightspace (D2L, https://docs.valence.desire2learn.com/): a deployment per org unit under one
  registration, the ``http://www.brightspace.com`` claim, ``product_family_code`` ``desire2learn``.
- Blackboard Learn (https://docs.anthology.com/): one issuer ``https://blackboard.com``; launches with an
  empty ``roles`` list (e.g. a guest or an observer), and an opaque deep-linking ``data`` string that
  the tool must send back unchanged (LTI Deep Linking 2.0 section 4.4.1).
"""

from __future__ import annotations

import base64
import json

import pytest
import requests

from .conftest import ADMIN, make_badges, make_members
from .platform import INSTRUCTOR, LEARNER, Browser, Platform, Served, create_platform_app, forms

C = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
CANVAS_ISS = "https://canvas.instructure.com"
BLACKBOARD_ISS = "https://blackboard.com"


@pytest.fixture
def served_platforms(hub_server):
    """A factory of served platforms (stopped after the test): ``make(**Platform fields)``."""
    _app, hub = hub_server
    running = []

    def make(**fields) -> Platform:
        p = Platform(tool_base=hub, **fields)
        served = Served(create_platform_app(p))
        running.append(served)
        p.base = served.url
        p.make_registration()
        make_members(p)
        return p

    yield make
    for served in running:
        served.stop()


def _register(hub: str, p: Platform, issuer_public_id: str, **changes) -> dict:
    body = {**p.hub_registration(badge_issuer=issuer_public_id), **changes}
    r = requests.post(f"{hub}/api/v1/lti/registrations", json=body, headers=ADMIN, timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def _canvas_claims(p: Platform, roles_by_sub: dict[str, list[str]]):
    def tamper(payload: dict) -> dict:
        roles = roles_by_sub.get(payload["sub"], payload[C + "roles"])
        context = {**payload[C + "context"], "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]}
        return {
            **payload,
            C + "roles": roles,
            C + "context": context,
            C + "tool_platform": {"guid": "qwerty:canvas-lms", "name": "Szkoła", "version": "cloud",
                                  "product_family_code": "canvas"},
            C + "lti1p1": {"user_id": "a6b5c4d3e2f1" + payload["sub"]},
            "https://www.instructure.com/placement": "course_navigation",
        }  # fmt: skip

    p.registration.tamper = tamper


CANVAS_STUDENT = [
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student",
    LEARNER,
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#User",
]
CANVAS_TEACHER = [
    "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Instructor",
    INSTRUCTOR,
    "http://purl.imsglobal.org/vocab/lis/v2/system/person#User",
]


def test_canvas_one_issuer_many_clients_each_sees_its_own_issuer(hub_server, served_platforms):
    app, hub = hub_server
    ctx = app.extensions["hub"]
    schools = []
    for n, name in ((1, "Szkoła A"), (2, "Szkoła B")):
        p = served_platforms(
            fixed_iss=CANVAS_ISS,
            client_id=f"1000000000000{n}",
            deployment_id=f"{n}2:8865aa05b4b79b64a91a86042e43af5ea8ae79eb",
            product_family="canvas",
            login_extra={"lti_storage_target": "post_message_forwarding"},
        )
        _canvas_claims(p, {"10": CANVAS_TEACHER, "4": CANVAS_STUDENT, "5": CANVAS_STUDENT})
        badges = make_badges(ctx, name=name)
        _register(hub, p, badges.issuer)
        schools.append((p, badges))
    (a, badges_a), (b, badges_b) = schools
    # Canvas sends client_id with every login, so each launch finds its own registration and issuer.
    page_a = Browser().launch(a, "10")
    page_b = Browser().launch(b, "10")
    assert page_a.status_code == page_b.status_code == 200, page_a.text
    assert badges_a["safe"] in page_a.text and badges_b["safe"] not in page_a.text
    assert badges_b["safe"] in page_b.text and badges_a["safe"] not in page_b.text
    regs = requests.get(f"{hub}/api/v1/lti/registrations", headers=ADMIN, timeout=10).json()["items"]
    assert sorted(r["client_id"] for r in regs if r["issuer"] == CANVAS_ISS) == ["10000000000001", "10000000000002"]
    # A Canvas student (institution + membership + system roles) gets the learner page.
    mine = Browser().launch(a, "4")
    assert mine.status_code == 200 and "My badges" in mine.text


def test_canvas_login_with_lti_storage_target(hub_server, served_platforms):
    """Canvas adds ``lti_storage_target`` to the login initiation; with cookies working the launch is the
    usual one, and the parameter comes back in the auth request."""
    app, hub = hub_server
    p = served_platforms(fixed_iss=CANVAS_ISS, client_id="10000000000003", product_family="canvas",
                         login_extra={"lti_storage_target": "post_message_forwarding"})  # fmt: skip
    _canvas_claims(p, {"10": CANVAS_TEACHER})
    _register(hub, p, make_badges(app.extensions["hub"]).issuer)
    b = Browser()
    r = b.http.get(f"{p.base}/launch", params={"user": "10"}, allow_redirects=False, timeout=10)
    assert "lti_storage_target=post_message_forwarding" in r.headers["Location"]
    page = b.launch(p, "10")
    assert page.status_code == 200 and "Badges in this course" in page.text


def test_canvas_dynamic_registration_extension(hub_server, served_platforms):
    _app, hub = hub_server
    p = served_platforms(
        client_id="10000000000077",
        product_family="canvas",
        platform_config_extra={
            "https://canvas.instructure.com/lti/account_name": "Szkoła Podstawowa nr 1",
            "https://canvas.instructure.com/lti/account_lti_guid": "qwerty:canvas-lms",
            "variables": ["Canvas.course.id", "Canvas.user.id"],
        },
    )
    r = requests.get(
        f"{hub}/lti/register",
        params={"openid_configuration": f"{p.base}/.well-known/openid-configuration",
                "registration_token": p.registration_token},
        timeout=20,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    (sent,) = p.registrations
    tool = sent["https://purl.imsglobal.org/spec/lti-tool-configuration"]
    assert tool["https://canvas.instructure.com/lti/privacy_level"] == "public"  # names and e-mails shared
    placements = {m["type"]: m.get("placements") for m in tool["messages"]}
    assert placements == {
        "LtiResourceLinkRequest": ["course_navigation"],
        "LtiDeepLinkingRequest": ["link_selection", "assignment_selection"],
    }
    (reg,) = requests.get(f"{hub}/api/v1/lti/registrations", headers=ADMIN, timeout=10).json()["items"]
    assert reg["product_family_code"] == "canvas" and reg["status"] == "pending"


def test_brightspace_a_deployment_per_org_unit(hub_server, served_platforms):
    app, hub = hub_server
    faculty_a, faculty_b = "8b1d5e52-6a4c-4c1e-9a52-0f0d3f5e2a11", "1c9e7f60-2b3d-4f8a-8e21-5a6b7c8d9e0f"
    p = served_platforms(client_id="4a1b2c3d-brightspace", deployment_id=faculty_a, product_family="desire2learn")
    org_unit = {"deployment": faculty_a, "context": "6606"}

    def tamper(payload: dict) -> dict:
        return {
            **payload,
            C + "deployment_id": org_unit["deployment"],
            C + "context": {**payload[C + "context"], "id": org_unit["context"],
                            "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"]},
            C + "roles": [*payload[C + "roles"], "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Learner"],
            C + "tool_platform": {"product_family_code": "desire2learn", "version": "20.25.11", "guid": "d2l-guid"},
            "http://www.brightspace.com": {"tenant_id": "5b8e-tenant", "org_defined_id": f"S-{payload['sub']}",
                                           "user_id": 200 + int(payload["sub"]), "username": f"u{payload['sub']}",
                                           "Context.id.history": ""},
        }  # fmt: skip

    p.registration.tamper = tamper
    reg = _register(hub, p, make_badges(app.extensions["hub"]).issuer)
    assert Browser().launch(p, "10").status_code == 200
    # The second faculty's org unit is another deployment: recorded for approval, then it launches.
    org_unit.update(deployment=faculty_b, context="6710")
    refused = Browser().launch(p, "10")
    assert refused.status_code == 401 and "not yet approved" in refused.text
    ok = requests.post(
        f"{hub}/api/v1/lti/registrations/{reg['id']}/deployments/{faculty_b}/approve", headers=ADMIN, timeout=10
    )
    assert ok.status_code == 200, ok.text
    assert Browser().launch(p, "10").status_code == 200
    deployments = requests.get(f"{hub}/api/v1/lti/registrations/{reg['id']}", headers=ADMIN).json()["deployments"]
    assert {d["deployment_id"]: d["status"] for d in deployments} == {faculty_a: "active", faculty_b: "active"}
    with app.extensions["hub"].db.session_scope() as s:
        from sqlalchemy import select

        from connectors.lti.models import LtiContext

        rows = s.execute(select(LtiContext.context_id, LtiContext.deployment_id)).all()
        assert sorted(rows) == [("6606", faculty_a), ("6710", faculty_b)]


def test_blackboard_empty_roles_and_opaque_deep_link_data(hub_server, served_platforms):
    app, hub = hub_server
    opaque = "_1094_1::_30_1::-1::false::false::_1_1::3f9a2c1e8b7d4e6f::false::false"
    p = served_platforms(fixed_iss=BLACKBOARD_ISS, client_id="b1ackb0ard-client-9", product_family="BlackboardLearn",
                         deployment_id="c4a7e2d0-5f3b-4e19-8a6d-2b1c0e9f7a35")  # fmt: skip

    def tamper(payload: dict) -> dict:
        payload = {**payload, C + "tool_platform": {"product_family_code": "BlackboardLearn", "version": "4000.1.0",
                                                    "guid": "bb-guid", "name": "Blackboard"}}  # fmt: skip
        if payload["sub"] == "5":
            payload[C + "roles"] = []  # Blackboard: a user with no course role
        if DL + "deep_linking_settings" in payload:
            payload[DL + "deep_linking_settings"] = {**payload[DL + "deep_linking_settings"], "data": opaque}
        return payload

    p.registration.tamper = tamper
    badges = make_badges(app.extensions["hub"])
    _register(hub, p, badges.issuer)
    # Empty roles: not a teacher; the learner page opens.
    page = Browser().launch(p, "5")
    assert page.status_code == 200 and "My badges" in page.text and "Badges in this course" not in page.text
    # Deep linking: the opaque data goes back unchanged in the signed response.
    teacher = Browser()
    page = teacher.launch(p, "10", kind="deeplink")
    assert page.status_code == 200 and "Add a badge to the course" in page.text
    choice = next(f for f in forms(page) if f["fields"].get("badge") == badges["safe"])
    auto = teacher.http.post(choice["action"], data=choice["fields"], timeout=20)
    token = forms(auto)[0]["fields"]["JWT"]
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims[DL + "data"] == opaque
    assert claims["iss"] == "b1ackb0ard-client-9" and claims["aud"] in (BLACKBOARD_ISS, [BLACKBOARD_ISS])
    saved = teacher.http.post(forms(auto)[0]["action"], data=forms(auto)[0]["fields"], timeout=10)
    assert saved.text == "saved"
