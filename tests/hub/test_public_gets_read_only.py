"""Public GETs never write (issue 12): every public page, document, image and credential of a fresh
award is served with no INSERT, UPDATE or DELETE reaching the database, on SQLite and PostgreSQL —
also before the certificate job has run, after a revocation, and for an issuer missing a key."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import delete, event, func, select

from hub import create_app
from hub.badges import services as badges
from hub.badges.models import Assertion, IssuerKey
from hub.certificates.models import RenderedFile
from tests.conftest import completion, post_event
from tests.hub.certificates.support import pdf_text

WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|REPLACE|MERGE|CREATE|DROP|ALTER|TRUNCATE)\b", re.IGNORECASE)
LD = {"Accept": "application/ld+json"}
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


@pytest.fixture
def settings(settings):
    """These tests watch the certificate.render job: pre-rendering on (off by default)."""
    return settings.with_(prerender_certificates=True)


@contextmanager
def no_writes(ctx):
    """Fail on any writing statement sent on ``ctx``'s engine inside the block."""
    seen: list[str] = []

    def check(conn, cursor, statement, parameters, context, executemany):
        if WRITES.match(statement):
            seen.append(statement.split("\n")[0][:200])

    event.listen(ctx.db.engine, "before_cursor_execute", check)
    try:
        yield seen
    finally:
        event.remove(ctx.db.engine, "before_cursor_execute", check)
    assert not seen, f"a public GET wrote: {seen}"


def award(client, ctx, factory) -> dict:
    """A fresh award through the webhook pipeline, its learner showing their name (the certificate is
    public), and the ids the public URLs need."""
    ids = factory.setup()
    factory.learner("zofia.gesla@example.edu", show_name=True)
    assert post_event(client, completion()).status_code == 202
    with ctx.db.session_scope() as s:
        a = s.query(Assertion).one()
        ids["assertion"] = a.public_id
        ids["key"] = a.signing_key.public_id
    credential = client.get(f"/credentials/{ids['assertion']}", headers=JSON).get_json()
    ids["status_list"] = credential["credentialStatus"]["statusListCredential"].removeprefix("http://hub.test")
    return ids


def public_gets(ids: dict) -> list[tuple[str, dict]]:
    """Every public GET of an award, with the Accept header it is asked with."""
    a, i, b = ids["assertion"], ids["issuer"], ids["badge"]
    return [
        (f"/assertions/{a}", HTML),  # the public badge page
        (f"/assertions/{a}", LD),
        (f"/assertions/{a}/signed", {}),
        (f"/assertions/{a}/baked.png", {}),
        (f"/assertions/{a}/baked.png?form=signed", {}),
        (f"/assertions/{a}/certificate.pdf", {}),
        (f"/assertions/{a}/preview.png", {}),
        (f"/badges/{b}", HTML),
        (f"/badges/{b}", LD),
        (f"/badges/{b}/image", {}),
        (f"/badges/{b}/criteria", HTML),
        (f"/issuers/{i}", HTML),
        (f"/issuers/{i}", LD),
        (f"/issuers/{i}/keys/{ids['key']}", LD),
        (f"/issuers/{i}/revocations", LD),
        (f"/credentials/{a}", JSON),
        (f"/credentials/{a}", HTML),
        (f"/credentials/{a}/jwt", {}),
        (f"/credentials/{a}/jwt?alg=ES256", {}),
        (f"/credentials/{a}/jwt?alg=EdDSA", {}),
        (f"/credentials/{a}/baked.png", {}),
        (f"/credentials/{a}/baked.png?format=jwt", {}),
        (f"/issuers/{i}/did.json", {}),
        (ids["status_list"], {}),
        (f"/issuers/{i}/revocations/1edtech", {}),
        ("/verify", HTML),
    ]


def get_all(client, ids) -> dict[str, bytes]:
    out = {}
    for url, headers in public_gets(ids):
        resp = client.get(url, headers=headers)
        assert resp.status_code == 200, (url, resp.status_code, resp.get_data(as_text=True)[:300])
        out[url + str(sorted(headers.items()))] = resp.data
    return out


def renderings(ctx) -> int:
    with ctx.db.read_scope() as s:
        return s.scalar(select(func.count()).select_from(RenderedFile))


def test_no_public_get_writes_for_a_fresh_award(client, ctx, factory):
    ids = award(client, ctx, factory)
    assert renderings(ctx) == 2  # the certificate.render job ran after the award's commit
    with ctx.db.read_scope() as s:
        stored = s.scalar(select(RenderedFile.data).where(RenderedFile.kind == "certificate.pdf"))
    with no_writes(ctx):
        got = get_all(client, ids)
        got_again = get_all(client, ids)
    pdf = f"/assertions/{ids['assertion']}/certificate.pdf[]"
    assert got[pdf] == got_again[pdf] == stored  # the stored certificate is served as it is


def test_revocation_shows_at_the_next_download_without_a_write(client, ctx, factory):
    ids = award(client, ctx, factory)
    with ctx.db.session_scope() as s:  # revoked by the service alone: no job re-renders it
        badges.revoke(s, ctx, s.query(Assertion).one(), "Plagiat")
    url = f"/assertions/{ids['assertion']}/certificate.pdf"
    with no_writes(ctx):
        resp = client.get(url)
        assert client.get(f"/assertions/{ids['assertion']}/preview.png").status_code == 200
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "private, no-cache"
    assert "UNIEWAŻNIONY" in pdf_text(resp.data)


@pytest.fixture
def lazy_app(settings):
    """The app with certificate pre-rendering off: no job has rendered anything."""
    app = create_app(settings.with_(prerender_certificates=False))
    app.config["TESTING"] = True
    yield app
    app.extensions["hub.jobs"].shutdown()
    app.extensions["hub"].db.dispose()


def test_before_any_rendering_gets_render_in_memory_and_store_nothing(lazy_app):
    from tests.conftest import Factory

    client, ctx = lazy_app.test_client(), lazy_app.extensions["hub"]
    ids = award(client, ctx, Factory(ctx))
    assert renderings(ctx) == 0
    with no_writes(ctx):
        get_all(client, ids)
    assert renderings(ctx) == 0


def test_an_issuer_missing_a_key_is_answered_without_making_one(client, ctx, factory):
    ids = award(client, ctx, factory)
    with ctx.db.session_scope() as s:  # as an issuer made before the hub gave keys at creation
        s.execute(delete(IssuerKey).where(IssuerKey.algorithm == "ES256"))
    with no_writes(ctx):
        did = client.get(f"/issuers/{ids['issuer']}/did.json").get_json()
        resp = client.get(f"/credentials/{ids['assertion']}/jwt?alg=ES256")
        assert client.get(f"/credentials/{ids['assertion']}/jwt?alg=EdDSA").status_code == 200
    assert {vm["publicKeyJwk"]["kty"] for vm in did["verificationMethod"] if "publicKeyJwk" in vm} == {"RSA"}
    assert resp.status_code == 503 and "ES256" in resp.get_json()["detail"]
    with ctx.db.session_scope() as s:  # the next award (a write path) makes it
        badges.award(s, ctx, s.query(Assertion).one().badge_class, _recipient("anna@example.edu"))
        assert s.scalar(select(func.count()).select_from(IssuerKey).where(IssuerKey.algorithm == "ES256")) == 1


def _recipient(email: str):
    from connectors.types import PlatformUser

    return PlatformUser(email=email)


def test_the_guard_sees_a_write(ctx, factory):
    with pytest.raises(AssertionError, match="a public GET wrote"):
        with no_writes(ctx):
            factory.learner("guard@example.edu")
