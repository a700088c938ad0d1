"""Names are one line: CR/LF (and NEL, U+2028/U+2029) in an issuer's, a badge class's or a recipient's
name are refused at input (they would reach e-mail headers), on every path."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.badges.models import Assertion, BadgeClass
from hub.inbox.models import InboundEvent
from tests.conftest import completion, post_event

AUTH = {"Authorization": "Bearer admin-token", "Accept-Language": "en"}
BREAKS = ["Zofia\r\nBcc: all@example.org", "Zofia\nX", "Zofia\u2028X", "Zofia\x85X"]


def _refused(resp, field: str) -> None:
    assert resp.status_code == 422, resp.get_data(as_text=True)
    problem = resp.get_json()
    assert problem["field"] == field and "one line" in problem["detail"]


@pytest.mark.parametrize("name", BREAKS)
def test_badge_and_issuer_names_with_line_breaks_are_refused(client, ctx, factory, name):
    info = factory.setup()
    body = {"issuer": info["issuer"], "name": name, "description": "d", "image": None}
    import base64

    from hub.demo import badge_png

    body["image"] = base64.b64encode(badge_png()).decode()
    _refused(client.post("/api/v1/badge-classes", headers=AUTH, json=body), "name")
    _refused(client.patch(f"/api/v1/badge-classes/{info['badge']}", headers=AUTH, json={"name": name}), "name")
    _refused(client.patch(f"/api/v1/issuers/{info['issuer']}", headers=AUTH, json={"name": name}), "name")
    with ctx.db.session_scope() as s:
        assert [b.name for b in s.scalars(select(BadgeClass))] == ["Zażółć gęślą jaźń"]


def test_a_recipient_name_with_a_line_break_is_refused_by_the_api_and_at_intake(client, ctx, factory):
    info = factory.setup()
    award = {"badge_class": info["badge"], "email": "ola@example.org", "name": BREAKS[0]}
    _refused(client.post("/api/v1/awards", headers=AUTH, json=award), "recipient.name")
    payload = completion()
    payload["data"]["user"]["fullname"] = BREAKS[0]
    resp = post_event(client, payload)
    assert resp.status_code == 422 and resp.get_json()["field"] == "recipient_name"
    with ctx.db.session_scope() as s:
        assert s.scalar(select(InboundEvent.status)) == "failed"
        assert s.scalar(select(Assertion)) is None
