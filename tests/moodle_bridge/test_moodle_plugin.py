"""The Moodle plugin (PHP) against the hub's side: lint, signatures, payloads, the webhook mapping.

Needs ``php`` (Debian: ``apt-get install -y php-cli``); skipped with that message when absent.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import jmespath
import pytest
import standardwebhooks

from moodle_bridge.events import WEBHOOK_MAPPING, completion_event
from moodle_bridge.sync import sync_connector
from tests.moodle_bridge.test_moodle_sync import FakeInbox

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "moodle_bridge" / "moodle_plugin" / "local_badgehub"
PHP_HELPERS = Path(__file__).parent / "php"
PHP = shutil.which("php")

needs_php = pytest.mark.skipif(PHP is None, reason="php not installed (apt-get install -y php-cli)")

SECRET = "whsec_" + base64.b64encode(b"badge-hub-moodle-test-secret-32b").decode()
MSG_ID = "msg_moodle_completion_17_1795940000"
BODY = '{"type":"course_completed","data":{"user":{"fullname":"Łukasz Wójcik"},"site":{"url":"https://m.example.edu"}}}'


def php(*args: str, stdin: str | None = None) -> str:
    done = subprocess.run([PHP, *args], input=stdin, capture_output=True, text=True, check=True, timeout=60)
    return done.stdout


def php_sign(tmp_path: Path, timestamp: int, body: str = BODY) -> dict[str, str]:
    body_file = tmp_path / "body.json"
    body_file.write_bytes(body.encode("utf-8"))
    return json.loads(php(str(PHP_HELPERS / "sign.php"), SECRET, MSG_ID, str(timestamp), str(body_file)))


@needs_php
@pytest.mark.parametrize("path", sorted(PLUGIN.rglob("*.php")) + sorted(PHP_HELPERS.glob("*.php")), ids=str)
def test_php_lint(path):
    assert "No syntax errors" in php("-l", str(path))


@needs_php
def test_signature_matches_the_hubs_library_byte_for_byte(tmp_path):
    fixed = 1795940000
    headers = php_sign(tmp_path, fixed)
    expected = standardwebhooks.Webhook(SECRET).sign(MSG_ID, datetime.fromtimestamp(fixed, UTC), BODY)
    assert headers == {"webhook-id": MSG_ID, "webhook-timestamp": str(fixed), "webhook-signature": expected}


@needs_php
def test_signature_verifies_and_tampering_does_not(tmp_path):
    now = int(time.time())
    headers = php_sign(tmp_path, now)
    standardwebhooks.Webhook(SECRET).verify(BODY.encode(), headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(SECRET).verify(BODY.replace("Wójcik", "Wojcik").encode(), headers)


def plugin_body(fake, *, timecompleted: int | None, proficient: list[int]) -> str:
    """What the plugin's task sends for the recorded learner 4 in the recorded course 2."""
    course = fake.courses[2]
    user = next(u for u in fake.enrolled[2] if u["id"] == 4)
    competencies = [r["competency"] for r in fake.competencies[2] if r["competency"]["id"] in proficient]
    given = {
        "siteurl": fake.site_url + "/",  # $CFG->wwwroot never ends in "/", but be safe
        "course": {k: course[k] for k in ("id", "shortname", "idnumber", "fullname")},
        "user": {k: user[k] for k in ("id", "idnumber", "email", "firstname", "lastname", "fullname")},
        "timecompleted": timecompleted,
        "competencies": [{k: c[k] for k in ("id", "idnumber", "shortname")} for c in competencies],
        "now": 1795940100,
    }
    return php(str(PHP_HELPERS / "payload.php"), stdin=json.dumps(given))


def mapped(payload: dict) -> dict:
    return {name: jmespath.search(expr, payload) for name, expr in WEBHOOK_MAPPING.items()}


@needs_php
def test_push_and_sync_describe_the_same_completion(fake, client, hub_ctx, make_connector):
    fake.proficient.add((4, 2))
    make_connector(fake.site_url, course_ids=[2])
    inbox = FakeInbox()
    sync_connector(hub_ctx, "moodle-main", client=client, submit=inbox)
    (synced,) = inbox.events

    pushed = json.loads(plugin_body(fake, timecompleted=1795940000, proficient=[2]))
    # Same data on both paths, except the completion time the web service does not return.
    assert {k: v for k, v in pushed["data"].items() if k != "completion"} == {
        k: v for k, v in synced.data["data"].items() if k != "completion"
    }
    when = datetime.fromtimestamp(1795940000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # PHP's gmdate == Python's
    assert pushed["data"]["completion"] == {"timecompleted": 1795940000, "completed_at": when}

    fields = mapped(pushed)
    assert fields["idempotency_key"] == synced.idempotency_key == f"moodle:{fake.site_url}:course:2:user:4"
    assert fields["event_type"] == synced.event_type == "course_completed"
    assert fields["key"] == synced.key == "SEC-101"
    assert fields["recipient_email"] == synced.recipient.email
    assert fields["recipient_name"] == synced.recipient.name == "Łukasz Wójcik"
    assert fields["platform_user_id"] == synced.recipient.platform_user_id == "4"
    assert fields["platform"] == synced.recipient.platform == fake.site_url
    assert fields["outcomes"] == list(synced.outcomes) == ["esco:1c2b3a4d-skill-test-2"]
    assert fields["occurred_at"] == when


@needs_php
def test_mapping_equals_the_python_normaliser_on_the_plugin_payload(fake):
    payload = json.loads(plugin_body(fake, timecompleted=None, proficient=[]))
    event = completion_event("push", payload)
    fields = mapped(payload)
    assert fields["idempotency_key"] == event.idempotency_key
    assert fields["outcomes"] == [] and event.outcomes == ()
    assert fields["occurred_at"] is None and event.occurred_at is None


def test_moodle_user_is_the_lti_learner(ref_dir):
    """An LTI launch from the same site names the learner by ``iss`` + ``sub``: the same pair the
    bridge puts into ``PlatformUser.platform`` / ``platform_user_id``."""
    launch = json.loads((ref_dir / "lti_moodle_launch_learner.json").read_text())
    users = json.loads((ref_dir / "ws_enrolled_users.json").read_text())["response"]
    course = json.loads((ref_dir / "ws_courses_by_field.json").read_text())["response"]["courses"][0]
    from moodle_bridge.client import Course, EnrolledUser
    from moodle_bridge.events import completion_payload

    user = next(u for u in users if str(u["id"]) == launch["sub"])
    payload = completion_payload(
        site_url=launch["iss"],
        course=Course(course["id"], course["shortname"], course["fullname"], course["idnumber"], True),
        user=EnrolledUser(
            user["id"], user["fullname"], user["firstname"], user["lastname"], user["email"], user["idnumber"]
        ),
        timecompleted=None,
    )
    recipient = completion_event("moodle", payload).recipient
    assert (recipient.platform, recipient.platform_user_id) == (launch["iss"], launch["sub"])
    assert recipient.email == launch["email"]
    assert recipient.sourced_id == launch["https://purl.imsglobal.org/spec/lti/claim/lis"]["person_sourcedid"]


def test_readme_shows_the_mapping_the_code_uses():
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- webhook-mapping -->", 1)[1].split("```json", 1)[1].split("```", 1)[0]
    assert json.loads(block) == WEBHOOK_MAPPING
