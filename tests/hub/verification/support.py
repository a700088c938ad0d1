"""Helpers for verifier tests: a fetcher allowed onto loopback (tests only), and awards served live."""

from __future__ import annotations

from hub.badges.models import Assertion
from hub.verification import verify
from hub.verification.fetch import CACHE, Fetcher
from tests.conftest import Factory, completion, post_event

EMAIL = "zofia.gesla@example.edu"  # completion()'s e-mail after trimming and lower-casing


def loopback_fetcher(**kw) -> Fetcher:
    """A fetcher whose guard allows loopback and private addresses: only tests use this."""
    CACHE.clear()
    kw.setdefault("max_bytes", 1024 * 1024)
    kw.setdefault("timeout", 30)  # generous: a loaded test machine answers slowly
    return Fetcher(allow_private=True, use_cache=False, **kw)


def award_one(app, **kw) -> str:
    ctx = app.extensions["hub"]
    Factory(ctx).setup(**kw)
    assert post_event(app.test_client(), completion()).status_code == 202
    with ctx.db.session_scope() as s:
        return s.query(Assertion).order_by(Assertion.id.desc()).first().public_id


def check(app, emails=(EMAIL,), **given):
    """Verify ``given`` (``data``/``url``/``text``) with a loopback fetcher; returns the verdict."""
    ctx = app.extensions["hub"]
    with ctx.db.session_scope() as s, loopback_fetcher() as f:
        return verify(ctx, emails=list(emails), session=s, fetcher=f, **given)


def statuses(v) -> dict:
    return {c.name: c.status for c in v.checks}
