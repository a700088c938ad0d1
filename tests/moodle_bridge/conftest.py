"""Fixtures: the Moodle contract double on a real localhost HTTP server, a real SQLite hub database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.moodle_bridge.moodle_fake import FakeMoodle

REPO_ROOT = Path(__file__).resolve().parents[2]
REF_DIR = REPO_ROOT.parent / "shared" / "ref" / "moodle"


@pytest.fixture(scope="session")
def ref_dir() -> Path:
    if not (REF_DIR / "ws_site_info.json").exists():
        pytest.skip(f"recorded Moodle responses not found at {REF_DIR} (../shared/ref/moodle)")
    return REF_DIR


@pytest.fixture
def fake(ref_dir, httpserver) -> FakeMoodle:
    moodle = FakeMoodle.from_recordings(ref_dir)
    moodle.site_url = httpserver.url_for("/").rstrip("/")
    httpserver.expect_request("/webservice/rest/server.php").respond_with_handler(moodle.handle)
    return moodle


@pytest.fixture
def client(fake):
    from moodle_bridge.client import MoodleClient

    c = MoodleClient(fake.site_url, "good-token", attempts=3, backoff=0)
    yield c
    c.close()


@pytest.fixture
def hub_ctx(settings):
    """A HubContext on the shared test databases (SQLite, and PostgreSQL when configured), migrated."""
    import moodle_bridge.models  # noqa: F401
    from hub.context import HubContext

    ctx = HubContext.from_settings(settings.with_(base_url="https://badges.example.org"))
    yield ctx
    ctx.db.dispose()


@pytest.fixture
def make_connector(hub_ctx):
    """Create a ``kind="moodle"`` ConnectorConfig row with its token encrypted via ``ctx.box``."""
    from hub.connections.models import ConnectorConfig

    def make(site_url: str, *, slug="moodle-main", token="good-token", **config):
        config = {"site_url": site_url, **config}
        with hub_ctx.db.session_scope() as s:
            row = ConnectorConfig(
                slug=slug,
                kind="moodle",
                name="Test Moodle",
                config=config,
                secrets_encrypted=hub_ctx.box.encrypt(json.dumps([token]).encode()),
            )
            s.add(row)
        return row

    return make
