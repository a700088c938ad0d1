"""Two issuers, their people, and helpers to sign in through the real console (CSRF included)."""

from __future__ import annotations

import re

import pytest

from hub.accounts import services as accounts
from hub.accounts.models import ApiToken, BulkJob
from hub.badges.models import Assertion
from hub.inbox.models import InboundEvent
from hub.rules.models import AwardRule
from tests.conftest import completion, post_event

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client, path: str = "/admin/login") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    return client.post("/admin/login", data={"email": email, "password": password, "csrf_token": csrf(client)})


def post_form(client, path: str, data: dict | None = None, **kw):
    """POST a console form with the session's CSRF token."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf(client, "/admin/account")}, **kw)


@pytest.fixture
def world(app, ctx, client, factory):
    """Issuer A and B, each with a badge class, webhook connector, rule, event and award; users:
    site admin, admin of A, staff of A, admin of B. Returns a dict of public ids and e-mails."""
    from hub.badges.models import Issuer
    from hub.connections.models import ConnectorConfig

    a = factory.setup(slug="lms-a")
    b = factory.setup(slug="lms-b")
    with ctx.db.session_scope() as s:
        for info in (a, b):
            row = s.query(ConnectorConfig).filter_by(slug=info["connector"]).one()
            row.issuer_id = info["issuer_id"]
    assert post_event(client, completion(email="a@example.org"), slug="lms-a").status_code == 202
    assert post_event(client, completion(email="b@example.org"), slug="lms-b").status_code == 202
    with ctx.db.session_scope() as s:
        accounts.create_user(s, email="site@example.org", password=PASSWORD, site_admin=True)
        admin_a = accounts.create_user(s, email="admin-a@example.org", password=PASSWORD)
        staff_a = accounts.create_user(s, email="staff-a@example.org", password=PASSWORD)
        admin_b = accounts.create_user(s, email="admin-b@example.org", password=PASSWORD)
        accounts.set_role(s, admin_a, a["issuer_id"], "admin")
        accounts.set_role(s, staff_a, a["issuer_id"], "staff")
        accounts.set_role(s, admin_b, b["issuer_id"], "admin")
        _, token_b = accounts.create_api_token(s, admin_b, name="b", scope="manage")
        for info in (a, b):
            issuer = s.get(Issuer, info["issuer_id"])
            connector = s.query(ConnectorConfig).filter_by(slug=info["connector"]).one()
            event = s.query(InboundEvent).filter_by(connector_id=connector.id).one()
            info.update(
                connector_id=connector.public_id,
                rule=s.query(AwardRule).filter_by(connector_id=connector.id).one().public_id,
                event=event.public_id,
                assertion=s.query(Assertion).filter_by(badge_class_id=info["badge_id"]).one().public_id,
                issuer_pid=issuer.public_id,
            )
            job = BulkJob(issuer_id=info["issuer_id"], user_id=None, filename="x.csv", rows=[], status="preview")
            s.add(job)
            s.flush()
            info["job"] = job.public_id
        b["token"] = s.query(ApiToken).filter_by(user_id=admin_b.id).one().public_id
        b["user"] = admin_b.public_id
    return {"a": a, "b": b, "token_b": token_b}
