"""Shared fixtures: a real SQLite file, and a real PostgreSQL when HUB_TEST_DATABASE_URL is set.

Every test that takes ``ctx``/``app``/``client`` runs once per database. The schema is made by the
real Alembic migrations once per session; tables are emptied after each test (the tests drive the app
over real HTTP and threads, so a per-test outer transaction cannot be shared with them).
"""

from __future__ import annotations

import base64
import json
import os
import socket
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from standardwebhooks.webhooks import Webhook
from werkzeug.serving import make_server

import hub.models  # noqa: F401
from hub import create_app
from hub.db import Base, normalise_url
from hub.migrations import upgrade
from hub.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SHARED_REF = REPO.parent / "shared" / "ref"


def _postgres_url() -> str | None:
    return os.environ.get("HUB_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'hub.db'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> str:
    base = _postgres_url()
    if not base:
        pytest.skip("PostgreSQL tests need HUB_TEST_DATABASE_URL (CI sets it to the local server)")
    u = make_url(normalise_url(base))
    name = f"{u.database or 'badgehub'}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = u.set(database=name).render_as_string(hide_password=False)
    upgrade(url)
    yield url
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    return request.getfixturevalue(f"{request.param}_url")


def empty_tables(url: str) -> None:
    engine = create_engine(normalise_url(url))
    with engine.begin() as c:
        for table in reversed(Base.metadata.sorted_tables):
            c.execute(table.delete())
    engine.dispose()


@pytest.fixture
def settings(db_url, tmp_path) -> Settings:
    yield Settings(
        instance_path=tmp_path,
        database_url=db_url,
        base_url="http://hub.test",
        secret_key="test-secret",
        key_encryption_key=Fernet.generate_key().decode(),
        job_mode="sync",
        admin_token="admin-token",
    )
    empty_tables(db_url)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["hub.jobs"].shutdown()
    app.extensions["hub"].db.dispose()


@pytest.fixture
def ctx(app):
    return app.extensions["hub"]


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def live_server(settings):
    """The app served over real HTTP on 127.0.0.1:<free port>, with base_url pointing at it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings.with_(base_url=f"http://127.0.0.1:{port}"))
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app
    server.shutdown()
    app.extensions["hub.jobs"].shutdown()
    app.extensions["hub"].db.dispose()


# ---- factories -------------------------------------------------------------------------------

from hub.demo import BADGE_SVG, MOODLE_MAPPING, badge_png  # noqa: E402

SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def signed_headers(body: str | bytes, secret: str = SECRET, msg_id: str | None = None, when: datetime | None = None):
    """Standard Webhooks headers for ``body`` (as a sender computes them)."""
    text_body = body.decode() if isinstance(body, bytes) else body
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    when = when or datetime.now(UTC)
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, when, text_body),
    }


class Factory:
    """Creates hub rows through the real services (one committed unit of work per call)."""

    def __init__(self, ctx):
        self.ctx = ctx

    def setup(
        self,
        *,
        slug="lms",
        image=None,
        allow_multiple=False,
        condition=None,
        event_type="course_completed",
        key="ZGJ-101",
        mapping=None,
        badge_name="Zażółć gęślą jaźń",
        expires_after_days=None,
    ):
        """Issuer + badge class + webhook connector + rule. Returns a dict of public ids / rows."""
        from hub.badges import services as badges
        from hub.connections.services import create_connector
        from hub.rules.services import create_rule

        with self.ctx.db.session_scope() as s:
            issuer = badges.create_issuer(
                s, self.ctx, name="Szkoła Łódź", url="https://szkola.example.pl", email="odznaki@szkola.example.pl"
            )
            badge = badges.create_badge_class(
                s,
                self.ctx,
                issuer,
                name=badge_name,
                description="Opis odznaki",
                image=image or badge_png(),
                allow_multiple=allow_multiple,
                expires_after_days=expires_after_days,
            )
            connector = create_connector(
                s,
                self.ctx,
                slug=slug,
                kind="webhooks",
                name="LMS",
                config={"mapping": mapping or MOODLE_MAPPING},
                secret=SECRET,
            )
            create_rule(s, connector, badge, event_type=event_type, key=key, condition=condition)
            return {
                "issuer": issuer.public_id,
                "badge": badge.public_id,
                "connector": slug,
                "badge_id": badge.id,
                "issuer_id": issuer.id,
            }

    def learner(self, email: str, *, show_name: bool = True) -> str:
        """A learner with ``email`` verified (as after a claim), showing their name publicly or not;
        returns the learner's public id."""
        from hub.db import utcnow
        from hub.learners import services as learners
        from hub.learners.models import Learner, LearnerEmail

        with self.ctx.db.session_scope() as s:
            learner = Learner()
            learner.emails.append(LearnerEmail(email=email, verified_at=utcnow()))
            s.add(learner)
            s.flush()
            learners.update_settings(
                s, learner, display_name=None, locale=None, show_name=show_name, allow_indexing=False
            )
            return learner.public_id


@pytest.fixture
def factory(ctx):
    return Factory(ctx)


COMPLETED_AT = datetime(2025, 11, 29, 9, 53, 20, tzinfo=UTC)


def completion(
    email="  Zofia.Gesla@Example.EDU ", name="Zażółć Gęślą Jaźń", course_id=42, user_id=7, idnumber="ZGJ-101", **extra
) -> dict:
    """A Moodle plugin completion payload (``hub.demo.completion_payload``), plus ``extra`` top-level keys."""
    from hub.demo import completion_payload

    payload = completion_payload(
        email=email, name=name, course_id=course_id, user_id=user_id, idnumber=idnumber, completed_at=COMPLETED_AT
    )
    payload.update(extra)
    return payload


def post_event(client, payload, slug="lms", secret=SECRET, **kw):
    body = json.dumps(payload, ensure_ascii=False)
    return client.post(f"/hooks/{slug}", data=body.encode(), headers=signed_headers(body, secret, **kw))


__all__ = ["BADGE_SVG", "SHARED_REF", "completion", "post_event", "signed_headers"]
