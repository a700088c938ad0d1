"""Identities never split: one normal form of an e-mail address (NFC, IDNA / UTS #46, trimmed, lower case)
before hashing, look-up, the once-only key, claim links and learner sign-in; the migration that
re-normalises stored rows reports, never merges, the rows that collapse into one."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from hub.badges.models import Assertion
from hub.badges.recipient import hash_identity, identity_forms, normalise_email
from hub.db import normalise_url
from hub.errors import ValidationError
from hub.learners.mail import mailer_for
from hub.learners.models import Learner, LearnerEmail
from hub.migrations import downgrade, upgrade
from hub.migrations.identities import renormalise
from hub.verification.common import identity_matches
from tests.conftest import completion, post_event

COMPOSED = "zo\u00eb@b\u00fccher.example"  # ë and ü as one code point each
DECOMPOSED = "zoe\u0308@bu\u0308cher.example"  # e + U+0308, u + U+0308
PUNYCODE = "Zo\u00eb@XN--BCHER-KVA.example"  # the domain as IDNA A-labels, upper case


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        (COMPOSED, COMPOSED),
        (DECOMPOSED, COMPOSED),
        (PUNYCODE, COMPOSED),
        (f"  {DECOMPOSED.upper()}\t", COMPOSED),
        ("Lukasz.Wojcik@Example.org", "lukasz.wojcik@example.org"),
        ("ola@xn--r8jz45g.xn--zckzah", "ola@例え.テスト"),
        ("ola@STRASSE.de", "ola@strasse.de"),
        ("ola@straße.de", "ola@straße.de"),  # non-transitional UTS #46: ß is not ss
        ("ola@उदाहरण.भारत", "ola@उदाहरण.भारत"),
    ],
)
def test_every_written_form_of_an_address_is_one_identity(typed, normal):
    assert normalise_email(typed) == normal
    assert normalise_email(normal) == normal  # idempotent


@pytest.mark.parametrize(
    "typed",
    ["ola@a_b.example", "ola@😀.example", "ola@ex\u200bample.org", "\ud83c@example.org", "ola@example", "@x.org"],
)
def test_addresses_idna_refuses_are_refused(typed):
    with pytest.raises(ValidationError) as err:
        normalise_email(typed)
    assert err.value.extra["field"] == "recipient.email"


def test_a_hash_is_of_the_normal_form_and_the_legacy_form_still_verifies():
    salt = "abc"
    assert identity_forms(DECOMPOSED) == [COMPOSED, DECOMPOSED]
    for hashed_form in (COMPOSED, DECOMPOSED):  # DECOMPOSED: an award issued before NFC
        identity = hash_identity(hashed_form, salt)
        for typed in (COMPOSED, PUNYCODE) if hashed_form == COMPOSED else (DECOMPOSED,):
            # what every verifier of the hub does (hub.verification: the backpack, /verify, the demo)
            assert identity_matches(identity, hashed=True, salt=salt, emails=[typed]) == typed, (hashed_form, typed)


def _assertions(ctx):
    with ctx.db.session_scope() as s:
        return [(a.recipient_plain, a.recipient_identity, a.recipient_salt) for a in s.query(Assertion).all()]


def test_a_once_only_badge_is_issued_once_whichever_form_arrives(client, ctx, factory):
    factory.setup()  # allow_multiple=False
    for n, email in enumerate((DECOMPOSED, COMPOSED, PUNYCODE)):
        # different Moodle users and completions: only the identity joins them
        assert post_event(client, completion(email=email, user_id=10 + n, course_id=42)).status_code == 202
    rows = _assertions(ctx)
    assert len(rows) == 1
    plain, identity, salt = rows[0]
    assert plain == COMPOSED and identity == hash_identity(COMPOSED, salt)


def _link(message) -> str:
    return re.search(r"http://hub\.test(/me/(?:claim|login)/\S+)", message.text).group(1)


def test_claim_and_sign_in_with_another_form_reach_the_same_learner(client, ctx, factory):
    factory.setup()
    assert post_event(client, completion(email=DECOMPOSED)).status_code == 202
    mails = mailer_for(ctx.settings).sent
    claim = [m for m in mails if m.to == COMPOSED][-1]
    assert client.post(_link(claim)).status_code == 303
    # signing in by typing the Punycode form finds the same account and its badge
    other = client.application.test_client()
    assert 'id="sent"' in other.post("/me/login", data={"email": PUNYCODE}).get_data(as_text=True)
    login = [m for m in mailer_for(ctx.settings).sent if m.to == COMPOSED][-1]
    assert other.post(_link(login)).status_code == 303
    assert "Zażółć gęślą jaźń" in other.get("/me").get_data(as_text=True)
    with ctx.db.session_scope() as s:
        assert s.query(Learner).count() == 1
        assert [e.email for e in s.query(LearnerEmail)] == [COMPOSED]


def _legacy_rows(client, ctx, factory):
    """Rows as the hub stored them before NFC/IDNA: two learners and two awards of a once-only badge
    for one person, under two written forms."""
    import hashlib

    from hub.accounts import services as accounts
    from hub.badges.models import BadgeClass

    info = factory.setup()
    assert post_event(client, completion(email=COMPOSED, user_id=1)).status_code == 202
    assert post_event(client, completion(email="other@example.org", user_id=2)).status_code == 202
    factory.learner(COMPOSED)
    factory.learner("x@example.org")
    with ctx.db.session_scope() as s:
        accounts.create_user(s, email="staff@example.org", password="correct horse battery")
    engine = sa.create_engine(normalise_url(ctx.settings.database_url))
    with engine.begin() as c:
        # the second award and learner arrive in the decomposed form, as the old code stored them
        badge = c.execute(sa.select(BadgeClass.public_id).where(BadgeClass.id == info["badge_id"])).scalar_one()
        legacy_key = hashlib.sha256(f"{badge}\x00{DECOMPOSED}".encode()).hexdigest()
        c.execute(
            sa.update(Assertion)
            .where(Assertion.recipient_plain == "other@example.org")
            .values(recipient_plain=DECOMPOSED, once_key=legacy_key)
        )
        c.execute(sa.update(LearnerEmail).where(LearnerEmail.email == "x@example.org").values(email=DECOMPOSED))
        c.execute(sa.text("UPDATE hub_user SET email = :e"), {"e": "Staff@XN--BCHER-KVA.example"})
    engine.dispose()
    return badge


@pytest.fixture
def legacy(client, ctx, factory):
    return _legacy_rows(client, ctx, factory)


def test_the_migration_renormalises_and_reports_collisions_without_merging(ctx, legacy):
    engine = sa.create_engine(normalise_url(ctx.settings.database_url))
    with engine.begin() as c:
        report = renormalise(c)
    with engine.begin() as c:
        again = renormalise(c)  # a second run finds nothing more to change and the same collisions
        emails = sorted(c.execute(sa.select(LearnerEmail.email)).scalars())
        plains = sorted(c.execute(sa.select(Assertion.recipient_plain)).scalars())
        user_email = c.execute(sa.text("SELECT email FROM hub_user")).scalar_one()
    engine.dispose()
    assert report.changed["assertion"] == 1 and report.changed["hub_user"] == 1
    assert user_email == "staff@bücher.example"
    # both awards now name the one normal form, so the learner finds both; the learners are left apart
    assert plains == [COMPOSED, COMPOSED]
    assert sorted(emails) == sorted([COMPOSED, DECOMPOSED])
    collisions = "\n".join(report.collisions)
    assert len(report.collisions) == 2, collisions
    assert f"badge {legacy} (earned once) was issued twice to {COMPOSED!r}" in collisions
    assert f"{COMPOSED!r} is one identity of learner" in collisions
    assert not again.changed or not any(again.changed.values())
    assert len(again.collisions) == 2
    assert any("COLLISION" in line for line in report.lines())


def test_the_alembic_revision_prints_the_report(ctx, legacy, capsys):
    url = ctx.settings.database_url
    downgrade(url, "d2b7f0e4c611")
    upgrade(url)
    out = capsys.readouterr().out
    assert "identities: COLLISION (left apart, merge by hand)" in out
    assert f"issued twice to {COMPOSED!r}" in out
