"""Outgoing webhooks over real HTTP: signed with Standard Webhooks and verified by the
``standardwebhooks`` library on the receiving side; a receiver that answers 500, times out or is down
gets every event once it is back, in order per award; a subscription switches off after failing for
the whole retry window, and the issuer's administrators are told."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.accounts.access import Principal
from hub.accounts.models import AuditEntry
from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.db import utcnow
from hub.errors import ValidationError
from hub.jobs.runner import Runner
from hub.learners.mail import mailer_for
from hub.operations import actions
from hub.operations import webhooks as hooks
from hub.outgoing import services as outgoing
from hub.outgoing.models import DELIVERED, FAILED, PENDING, WebhookDelivery, WebhookSubscription
from tests.conftest import completion, post_event
from tests.hub.outgoing.receiver import Receiver

ADMIN = Principal(None, "admin@hub.test", site_admin=True)
ALL = ["award.issued", "award.revoked", "award.expired", "path.completed", "event.failed"]


@pytest.fixture
def settings(settings):
    return settings.with_(webhook_allow_private_hosts=True, webhook_timeout_seconds=0.5)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def subscribe(ctx, issuer_public_id, url, events=ALL) -> tuple[str, str]:
    with ctx.db.session_scope() as s:
        issuer = s.scalar(select(Issuer).where(Issuer.public_id == issuer_public_id))
        sub, secret = hooks.subscribe(s, ctx, ADMIN, issuer, url=url, events=events)
        return sub.public_id, secret


def hand_award(ctx, badge_public_id, email):
    with ctx.db.session_scope() as s:
        badge = s.scalar(select(BadgeClass).where(BadgeClass.public_id == badge_public_id))
        return actions.award(s, ctx, ADMIN, badge, email=email, name="Zażółć").assertion.public_id


def revoke(ctx, assertion_public_id, reason="mistake"):
    with ctx.db.session_scope() as s:
        a = s.scalar(select(Assertion).where(Assertion.public_id == assertion_public_id))
        actions.revoke(s, ctx, ADMIN, a, reason)


def time_passes(ctx):
    """Every waiting delivery's backoff has ended (an hour later, say)."""
    with ctx.db.session_scope() as s:
        s.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.status == PENDING)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def test_signed_deliveries_verify_with_standardwebhooks(app, ctx, client, factory, receiver):
    ids = factory.setup()
    sub_id, secret = subscribe(ctx, ids["issuer"], receiver.url + "/hook")
    receiver.secrets["*"] = secret
    assert secret.startswith("whsec_")
    with ctx.db.read_scope() as s:  # stored encrypted, like connector secrets
        sub = s.scalar(select(WebhookSubscription).where(WebhookSubscription.public_id == sub_id))
        assert secret not in sub.secret_encrypted and outgoing.secret_of(ctx, sub) == secret
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "webhook.subscribe")).all()
        assert secret not in str(audit[0].after)

    assert post_event(client, completion(email="ola@example.org")).status_code == 202  # the webhook door
    hand = hand_award(ctx, _other_badge(ctx, ids), "jan@example.org")  # by hand
    assert not receiver.bad
    types = [(body["type"], body["data"]["recipient"]["email"]) for _, body in receiver.received]
    assert types == [("award.issued", "ola@example.org"), ("award.issued", "jan@example.org")]
    assert receiver.received[1][1]["data"]["id"] == hand
    # a failed inbound event of the issuer's connector is told too
    from hub.connections.models import ConnectorConfig

    with ctx.db.session_scope() as s:
        s.execute(update(ConnectorConfig).values(issuer_id=ids["issuer_id"]))
    assert post_event(client, completion(idnumber="NO-SUCH-COURSE", email="x@example.org")).status_code == 202
    assert receiver.received[-1][1]["type"] == "event.failed"


def _other_badge(ctx, ids):
    from hub.badges import services as badges
    from hub.demo import badge_png

    with ctx.db.session_scope() as s:
        issuer = s.scalar(select(Issuer).where(Issuer.public_id == ids["issuer"]))
        return badges.create_badge_class(s, ctx, issuer, name="By hand", description="d", image=badge_png()).public_id


@pytest.mark.parametrize("failure", ["500", "timeout", "down"])
def test_a_failing_receiver_gets_every_event_once_back_in_order(app, ctx, factory, receiver, failure):
    ids = factory.setup(allow_multiple=True)
    _, secret = subscribe(ctx, ids["issuer"], receiver.url + "/hook")
    receiver.secrets["*"] = secret
    if failure == "down":
        receiver.down()
    else:
        receiver.mode = failure
    a = hand_award(ctx, ids["badge"], "a@example.org")
    b = hand_award(ctx, ids["badge"], "b@example.org")
    revoke(ctx, a)
    c = hand_award(ctx, ids["badge"], "c@example.org")
    with ctx.db.read_scope() as s:
        rows = s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        # issued a, b, c tried once and waiting; revoked a waits behind issued a (order per award)
        assert [(r.event_type, r.status, r.attempts) for r in rows] == [
            ("award.issued", PENDING, 1),
            ("award.issued", PENDING, 1),
            ("award.revoked", PENDING, 0),
            ("award.issued", PENDING, 1),
        ]
        assert all(r.last_error for r in rows if r.attempts)
    assert receiver.received == []

    time_passes(ctx)  # still failing: a second attempt each, nothing out of order
    Runner(ctx).drain()
    assert receiver.received == []
    if failure == "down":
        receiver.up()
    receiver.mode = "ok"
    time_passes(ctx)
    Runner(ctx).drain()

    got = [(body["type"], body["data"]["id"]) for _, body in receiver.received]
    assert sorted(got) == sorted([("award.issued", a), ("award.issued", b), ("award.revoked", a), ("award.issued", c)])
    assert got.index(("award.issued", a)) < got.index(("award.revoked", a))
    assert len({msg_id for msg_id, _ in receiver.received}) == 4  # each once
    with ctx.db.read_scope() as s:
        assert set(s.scalars(select(WebhookDelivery.status))) == {DELIVERED}
    assert not receiver.bad


def test_a_receiver_that_does_not_answer_costs_a_pass_one_attempt(app, ctx, factory, receiver):
    """Deliveries waiting for a receiver that times out: a pass tries the first, leaves the rest
    waiting without counting an attempt, and still serves the issuer's other subscription."""
    ids = factory.setup(allow_multiple=True)
    healthy = Receiver()
    try:
        _, secret = subscribe(ctx, ids["issuer"], receiver.url + "/hook", events=["award.issued"])
        _, other = subscribe(ctx, ids["issuer"], healthy.url + "/hook", events=["award.issued"])
        receiver.secrets["*"], healthy.secrets["*"] = secret, other
        receiver.mode = "timeout"
        awards = [hand_award(ctx, ids["badge"], f"{n}@example.org") for n in "abc"]  # each tried once
        assert receiver.posts == 3 and len(healthy.received) == 3

        time_passes(ctx)
        Runner(ctx).drain()  # one pass holds all three: one request, two left untried
        assert receiver.posts == 4
        with ctx.db.read_scope() as s:
            rows = s.scalars(
                select(WebhookDelivery)
                .join(WebhookSubscription, WebhookSubscription.id == WebhookDelivery.subscription_id)
                .where(WebhookSubscription.url == receiver.url + "/hook")
                .order_by(WebhookDelivery.id)
            ).all()
            assert [(r.status, r.attempts) for r in rows] == [(PENDING, 2), (PENDING, 1), (PENDING, 1)]
            assert all(r.next_attempt_at > utcnow() for r in rows)

        receiver.mode = "ok"
        time_passes(ctx)
        Runner(ctx).drain()
        assert sorted(body["data"]["id"] for _, body in receiver.received) == sorted(awards)
        assert len(healthy.received) == 3
    finally:
        healthy.close()


def test_switched_off_after_the_retry_window_and_administrators_told(app, ctx, factory, receiver):
    ids = factory.setup()
    sub_id, secret = subscribe(ctx, ids["issuer"], receiver.url + "/hook")
    receiver.secrets["*"] = secret
    receiver.mode = "500"
    a = hand_award(ctx, ids["badge"], "a@example.org")
    with ctx.db.session_scope() as s:  # three days later
        s.execute(update(WebhookDelivery).values(created_at=utcnow() - timedelta(hours=73)))
    mails = mailer_for(ctx.settings).sent
    before = len(mails)
    time_passes(ctx)
    Runner(ctx).drain()
    with ctx.db.read_scope() as s:
        d = s.scalar(select(WebhookDelivery))
        sub = s.scalar(select(WebhookSubscription))
        assert d.status == FAILED and d.last_status == 500
        assert not sub.active and "72 hours" in sub.disabled_reason
    told = [m for m in list(mails)[before:] if "switched off" in m.subject or "wyłącz" in m.subject.lower()]
    assert [m.to for m in told] == ["odznaki@szkola.example.pl"]

    # events while off wait for nobody; switched on, the failed one is replayed from the log
    receiver.mode = "ok"
    with ctx.db.session_scope() as s:
        sub = s.scalar(select(WebhookSubscription).where(WebhookSubscription.public_id == sub_id))
        hooks.update(s, ctx, ADMIN, sub, active=True)
        hooks.replay(s, ctx, ADMIN, s.scalar(select(WebhookDelivery)))
    assert [(b["type"], b["data"]["id"]) for _, b in receiver.received] == [("award.issued", a)]


def test_test_send_and_replay_keep_the_webhook_id(app, ctx, factory, receiver):
    ids = factory.setup()
    sub_id, secret = subscribe(ctx, ids["issuer"], receiver.url + "/x", events=["path.completed"])
    receiver.secrets["*"] = secret
    hand_award(ctx, ids["badge"], "a@example.org")  # not chosen: nothing sent
    assert receiver.received == []
    with ctx.db.session_scope() as s:
        sub = s.scalar(select(WebhookSubscription))
        hooks.send_test(s, ctx, ADMIN, sub)
    assert [b["type"] for _, b in receiver.received] == ["webhook.test"]
    with ctx.db.session_scope() as s:
        hooks.replay(s, ctx, ADMIN, s.scalar(select(WebhookDelivery)))
    assert len(receiver.received) == 2 and receiver.received[0][0] == receiver.received[1][0]
    with ctx.db.session_scope() as s, pytest.raises(ValidationError):
        d = s.scalar(select(WebhookDelivery))
        d.status = PENDING
        hooks.replay(s, ctx, ADMIN, d)


def test_expired_awards_are_told_once(app, ctx, factory, receiver):
    ids = factory.setup(expires_after_days=1)
    _, secret = subscribe(ctx, ids["issuer"], receiver.url + "/x", events=["award.expired"])
    receiver.secrets["*"] = secret
    a = hand_award(ctx, ids["badge"], "a@example.org")
    with ctx.db.session_scope() as s:
        s.execute(update(Assertion).values(expires=utcnow() - timedelta(hours=1)))
    assert outgoing.scan_expired(ctx) == 1
    assert outgoing.scan_expired(ctx) == 0
    Runner(ctx).drain()
    assert [(b["type"], b["data"]["id"]) for _, b in receiver.received] == [("award.expired", a)]


def test_the_address_guard_refuses_private_and_plain_http_urls(settings, factory):
    from hub import create_app

    app = create_app(settings.with_(webhook_allow_private_hosts=False))
    ctx = app.extensions["hub"]
    ids = factory.__class__(ctx).setup()
    for url, why in [
        ("http://example.org/hook", "https"),
        ("https://127.0.0.1/hook", "private"),
        ("https://10.1.2.3/hook", "private"),
        ("https://localhost/hook", "private"),
        ("https://no-such-host.invalid/hook", "resolve"),
    ]:
        with ctx.db.session_scope() as s, pytest.raises(ValidationError) as caught:
            issuer = s.scalar(select(Issuer).where(Issuer.public_id == ids["issuer"]))
            hooks.subscribe(s, ctx, ADMIN, issuer, url=url, events=["award.issued"])
        assert why in str(caught.value.detail), url
    with ctx.db.session_scope() as s, pytest.raises(ValidationError):
        issuer = s.scalar(select(Issuer).where(Issuer.public_id == ids["issuer"]))
        hooks.subscribe(s, ctx, ADMIN, issuer, url="https://example.org/", events=["award.nothing"])
    app.extensions["hub.jobs"].shutdown()
    ctx.db.dispose()


def test_delivery_goes_through_the_address_guard(settings, factory, receiver):
    """A subscription made while private hosts were allowed is still refused at delivery time once they
    are not: the guarded pool checks every connection."""
    from hub import create_app
    from hub.jobs.runner import Runner as R

    open_app = create_app(settings)
    open_ctx = open_app.extensions["hub"]
    ids = factory.__class__(open_ctx).setup()
    subscribe(open_ctx, ids["issuer"], receiver.url + "/x")
    open_app.extensions["hub.jobs"].shutdown()
    open_ctx.db.dispose()
    strict = create_app(settings.with_(webhook_allow_private_hosts=False))
    ctx = strict.extensions["hub"]
    hand_award(ctx, ids["badge"], "a@example.org")
    R(ctx).drain()
    with ctx.db.read_scope() as s:
        d = s.scalar(select(WebhookDelivery))
        assert d.status == PENDING and d.last_error.startswith("blocked:") and "127.0.0.1" in d.last_error
    assert receiver.received == []
    strict.extensions["hub.jobs"].shutdown()
    ctx.db.dispose()
