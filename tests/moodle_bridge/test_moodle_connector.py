"""MoodleConnector: config validation, replay normalisation, the ``moodle`` CLI group."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from hub.errors import ConfigurationError, EventNotProcessable
from moodle_bridge import sync
from moodle_bridge.connector import MoodleConnector
from moodle_bridge.events import completion_key
from tests.moodle_bridge.test_moodle_sync import FakeInbox


def test_validate_config():
    c = MoodleConnector()
    out = c.validate_config({"site_url": "https://moodle.example.edu/", "course_ids": ["2"]})
    assert out["site_url"] == "https://moodle.example.edu" and out["course_ids"] == [2] and out["competencies"]
    for bad in (
        {"site_url": "moodle.example.edu", "course_ids": [2]},
        {"site_url": "https://moodle.example.edu"},
        {"site_url": "https://moodle.example.edu", "course_ids": ["x"]},
        {"site_url": "https://moodle.example.edu", "course_ids": [2], "page_size": 0},
    ):
        with pytest.raises(ConfigurationError):
            c.validate_config(bad)


def test_normalise_replays_a_stored_payload():
    payload = {
        "type": "course_completed",
        "timestamp": "2026-11-29T07:33:20Z",
        "data": {
            "site": {"url": "https://moodle.example.edu"},
            "course": {"id": 2, "shortname": "SEC101", "idnumber": "", "fullname": "x"},
            "user": {"id": 4, "email": None, "fullname": "Łukasz Wójcik"},
            "completion": {"timecompleted": None, "completed_at": None},
            "competencies": [],
        },
    }
    event = MoodleConnector().normalise("moodle-main", {}, json.dumps(payload))
    assert event.key == "SEC101"  # idnumber empty: the shortname
    assert event.idempotency_key == completion_key("https://moodle.example.edu/", 2, 4)
    with pytest.raises(EventNotProcessable):
        MoodleConnector().normalise("moodle-main", {}, "{}")


@pytest.fixture
def app(hub_ctx):
    app = Flask(__name__)
    app.extensions["hub"] = hub_ctx
    MoodleConnector().init_app(app)
    return app


def test_cli_check_and_sync(app, fake, make_connector, monkeypatch):
    make_connector(fake.site_url, course_ids=[2])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["moodle", "check", "moodle-main"])
    assert result.exit_code == 0, result.output
    assert "Moodle 5.1" in result.output

    inbox = FakeInbox()
    monkeypatch.setattr(sync, "_default_submit", inbox)  # the hub inbox service is wired by the lead
    result = runner.invoke(args=["moodle", "sync", fake.site_url])
    assert result.exit_code == 0, result.output
    assert "course 2: 3 users, 1 completed, 1 new (done" in result.output
    assert len(inbox.events) == 1


def test_cli_reports_moodle_errors_without_traceback(app, fake, make_connector):
    make_connector(fake.site_url, course_ids=[2], token="wrong")
    result = app.test_cli_runner().invoke(args=["moodle", "check", "moodle-main"])
    assert result.exit_code == 1 and "Invalid token" in result.output
    result = app.test_cli_runner().invoke(args=["moodle", "sync"])
    assert result.exit_code == 2  # usage: SITE or --all


def test_cli_says_which_site_it_uses_and_refuses_an_ambiguous_address(app, fake, make_connector, monkeypatch):
    """Sites added twice before the hub refused it (the trial made three): the address alone no longer
    picks one of them silently."""
    make_connector(fake.site_url, course_ids=[2])
    runner = app.test_cli_runner()
    result = runner.invoke(args=["moodle", "check", f"{fake.site_url.upper().replace('HTTP://', 'http://')}/"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"Moodle site moodle-main (Test Moodle): {fake.site_url}"

    make_connector(f"{fake.site_url}/", slug="moodle-copy", course_ids=[2])
    for command in ("check", "sync"):
        result = runner.invoke(args=["moodle", command, fake.site_url])
        assert result.exit_code == 1, result.output
        assert f"several Moodle sites have the address {fake.site_url}: moodle-main, moodle-copy" in result.output
        assert "Traceback" not in result.output
    result = runner.invoke(args=["moodle", "check", "moodle-copy"])  # by its slug: that one
    assert result.exit_code == 0 and result.output.startswith("Moodle site moodle-copy ")
    result = runner.invoke(args=["moodle", "check", "https://nowhere.example"])
    assert result.exit_code == 1 and "no Moodle connector named" in result.output


def test_site_key():
    assert sync.site_key("https://Moodle.Example.edu:443/") == "moodle.example.edu"
    assert sync.site_key("http://moodle.example.edu/index.php") == "moodle.example.edu"
    assert sync.site_key("https://moodle.example.edu/school/") == "moodle.example.edu/school"
    assert sync.site_key("https://moodle.example.edu:8443") == "moodle.example.edu:8443"
    assert sync.site_key("https://moodle.example.edu/School") != sync.site_key("https://moodle.example.edu/school")


def test_demo_uses_the_plugin_mapping():
    """``badgehub demo`` sends the plugin's payload shape with the plugin's mapping (kept in hub.demo because
    the hub never imports a connector)."""
    import jmespath

    from hub.demo import MOODLE_MAPPING, completion_payload
    from moodle_bridge.events import WEBHOOK_MAPPING, completion_key

    assert MOODLE_MAPPING == WEBHOOK_MAPPING
    payload = completion_payload(course_id=5, user_id=9)
    key = jmespath.search(WEBHOOK_MAPPING["idempotency_key"], payload)
    assert key == completion_key("https://moodle.example.edu", 5, 9)
