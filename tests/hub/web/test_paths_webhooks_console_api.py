"""Paths and outgoing webhooks in the console and the API: an administrator builds a path and a
subscription (the secret shown once, after the redirect), sees the delivery log, test-sends and
replays; issuer scoping holds; refusals are readable (422 problem JSON, a flashed message)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hub.outgoing.models import WebhookDelivery
from tests.hub.outgoing.receiver import Receiver
from tests.hub.web.conftest import post_form, sign_in

ADMIN = {"Authorization": "Bearer admin-token"}


@pytest.fixture
def settings(settings):
    return settings.with_(webhook_allow_private_hosts=True, webhook_timeout_seconds=0.5)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_console_builds_a_path_and_a_subscription(app, client, ctx, world, receiver):
    a = world["a"]
    assert sign_in(client, "admin-a@example.org").status_code == 302
    # a second badge of issuer A as the completion badge, made through the API
    import base64

    from hub.demo import badge_png

    made = client.post(
        "/api/v1/badge-classes",
        headers=ADMIN,
        json={
            "issuer": a["issuer"],
            "name": "Ukończona ścieżka",
            "description": "d",
            "image": base64.b64encode(badge_png()).decode(),
        },
    )
    assert made.status_code == 201, made.get_json()
    done_badge = made.get_json()["id"]
    answer = post_form(
        client, "/admin/paths", {"issuer": a["issuer"], "name": "Ścieżka A", "completion_badge": done_badge}
    )
    assert answer.status_code == 302
    path_url = answer.headers["Location"]
    assert (
        post_form(client, path_url, {"action": "step", "badge_class": a["badge"], "required": "on"}).status_code == 302
    )
    page = client.get(path_url).get_data(as_text=True)
    assert "Ścieżka A" in page and 'id="steps"' in page
    # a cycle is refused with a readable message
    post_form(client, path_url, {"action": "step", "badge_class": done_badge})
    refused = client.get(path_url).get_data(as_text=True)
    assert "cycle" in refused or "cykl" in refused

    answer = post_form(
        client,
        "/admin/webhooks",
        {"issuer": a["issuer"], "url": receiver.url + "/in", "events": ["award.issued", "path.completed"]},
    )
    assert answer.status_code == 302
    sub_url = answer.headers["Location"]
    first = client.get(sub_url).get_data(as_text=True)
    secret = re.search(r"(whsec_[A-Za-z0-9+/=]+)", first).group(1)
    assert secret not in client.get(sub_url).get_data(as_text=True)  # shown once
    receiver.secrets["*"] = secret
    assert post_form(client, sub_url, {"action": "test"}).status_code == 302
    assert [b["type"] for _, b in receiver.received] == ["webhook.test"]
    log = client.get(sub_url).get_data(as_text=True)
    assert "webhook.test" in log and "/replay" in log
    with ctx.db.read_scope() as s:
        delivery = s.scalar(select(WebhookDelivery))
    assert post_form(client, f"/admin/webhooks/deliveries/{delivery.public_id}/replay").status_code == 302
    assert len(receiver.received) == 2
    # issuer B's administrator does not see A's subscription
    other = app.test_client()
    sign_in(other, "admin-b@example.org")
    assert other.get(sub_url).status_code == 404
    assert other.get(path_url).status_code == 404


def test_api_paths_progress_and_webhooks(app, client, ctx, world, receiver):
    a = world["a"]
    import base64

    from hub.demo import badge_png

    img = base64.b64encode(badge_png()).decode()
    done_badge = client.post(
        "/api/v1/badge-classes",
        headers=ADMIN,
        json={"issuer": a["issuer"], "name": "X", "description": "d", "image": img},
    ).get_json()["id"]
    sub = client.post(
        "/api/v1/webhooks",
        headers=ADMIN,
        json={"issuer": a["issuer"], "url": receiver.url + "/api", "events": ["path.completed"]},
    )
    assert sub.status_code == 201
    receiver.secrets["*"] = sub.get_json()["secret"]
    assert "secret" not in client.get(f"/api/v1/webhooks/{sub.get_json()['id']}", headers=ADMIN).get_json() or (
        client.get(f"/api/v1/webhooks/{sub.get_json()['id']}", headers=ADMIN).get_json().get("secret") is None
    )
    path = client.post(
        "/api/v1/paths", headers=ADMIN, json={"issuer": a["issuer"], "name": "P", "completion_badge": done_badge}
    )
    assert path.status_code == 201, path.get_json()
    pid = path.get_json()["id"]
    cycle = client.post(f"/api/v1/paths/{pid}/steps", headers=ADMIN, json={"badge_class": done_badge})
    assert cycle.status_code == 422 and "cycle" in cycle.get_json()["detail"]
    # a.org holds issuer A's badge from the world fixture; a step added later completes on the next award
    assert client.post(f"/api/v1/paths/{pid}/steps", headers=ADMIN, json={"badge_class": a["badge"]}).status_code == 201
    progress = client.get(f"/api/v1/paths/{pid}/progress?email=a@example.org", headers=ADMIN).get_json()
    assert progress["complete"] and progress["steps"][0]["state"] == "done"
    award = client.post(
        "/api/v1/awards", headers=ADMIN, json={"badge_class": a["badge"], "email": "new@example.org", "name": "N"}
    )
    assert award.status_code in (200, 201), award.get_json()
    assert [(b["type"], b["data"]["award"]["recipient"]["email"]) for _, b in receiver.received] == [
        ("path.completed", "new@example.org")
    ]
    log = client.get(f"/api/v1/webhooks/{sub.get_json()['id']}/deliveries", headers=ADMIN).get_json()
    assert [d["status"] for d in log["items"]] == ["delivered"]
    replay = client.post(f"/api/v1/webhooks/deliveries/{log['items'][0]['id']}/replay", headers=ADMIN)
    assert replay.status_code == 202 and len(receiver.received) == 2
    b = {"Authorization": f"Bearer {world['token_b']}"}
    assert client.get(f"/api/v1/paths/{pid}", headers=b).status_code == 404
    assert client.get(f"/api/v1/webhooks/{sub.get_json()['id']}", headers=b).status_code == 404
    bad = client.post(
        "/api/v1/webhooks", headers=ADMIN, json={"issuer": a["issuer"], "url": "ftp://x", "events": ["award.issued"]}
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
