"""Fixtures: the Moodle contract double on a real localhost HTTP server, a real SQLite hub database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from moodle_fake import FakeMoodle

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
def hub_ctx(tmp_path):
    """A HubContext with the hub's and the bridge's tables: a fresh SQLite file, or the PostgreSQL
    database in ``HUB_TEST_DATABASE_URL`` (tables created, and dropped afterwards)."""
    import hub.models  # noqa: F401  (fills Base.metadata)
    import moodle_bridge.models  # noqa: F401
    from hub.context import HubContext
    from hub.db import Base, Database
    from hub.settings import Settings

    settings = Settings(
        instance_path=tmp_path,
        database_url=os.environ.get("HUB_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'hub.db'}",
        base_url="https://badges.example.org",
        secret_key="test",
        key_encryption_key=Fernet.generate_key().decode(),
    )
    db = Database(settings.database_url)
    Base.metadata.create_all(db.engine)
    ctx = HubContext.from_settings(settings, db)
    yield ctx
    if db.dialect != "sqlite":
        Base.metadata.drop_all(db.engine)
    db.dispose()


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
