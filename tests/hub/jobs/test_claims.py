"""Claims take at most their limit: on PostgreSQL a locking ``IN (subquery … LIMIT n)`` could be
re-run per row by a nested-loop plan and claim every waiting row (:func:`hub.db.claim_filter`)."""

from __future__ import annotations

from sqlalchemy import func, select

from hub import create_app, jobs
from hub.inbox import services as inbox
from hub.learners import notifications
from hub.learners.models import Notification
from tests.conftest import Factory, completion, post_event


def test_each_queue_claims_at_most_its_limit(settings, monkeypatch):
    app = create_app(settings.with_(job_mode="worker", prerender_certificates=True))
    ctx = app.extensions["hub"]
    Factory(ctx).setup()
    client = app.test_client()
    for user in range(12):
        assert post_event(client, completion(user_id=user, email=f"c{user}@example.org")).status_code == 202

    first = inbox.claim(ctx, limit=5)
    assert len(first) == 5
    rest = inbox.claim(ctx, limit=50)
    assert len(rest) == 7 and not set(first) & set(rest)

    inbox.process_claimed(ctx, first + rest)  # 12 award e-mails wait in the outbox
    assert notifications.deliver(ctx, limit=4) == 4
    with ctx.db.read_scope() as s:
        assert s.scalar(select(func.count()).where(Notification.status == "pending")) == 8

    with ctx.db.read_scope() as s:  # the batch's 12 certificates: one certificate.render job
        assert s.scalars(select(jobs.Job.kind)).all() == ["certificate.render"]
    monkeypatch.setitem(jobs.KINDS, "test.noop", jobs.Kind("test.noop", lambda ctx, run: None))
    with ctx.db.session_scope() as s:
        for _ in range(3):
            jobs.enqueue(s, "test.noop")
    assert len(jobs.claim(ctx, limit=1)) == 1
    assert len(jobs.claim(ctx, limit=5)) == 3
    ctx.db.dispose()


def test_every_claim_reads_one_ordered_index_range(settings):
    """Each queue's claim (inbox, e-mail outbox, jobs, webhook outbox) is planned by SQLite as index
    searches, never a scan of its table or a sort of the backlog (``USE TEMP B-TREE``): its cost must
    not grow with the number of rows already done or still waiting (``hub.db.claim_filter``)."""
    from sqlalchemy import event

    from hub.outgoing import services as outgoing

    if not settings.database_url.startswith("sqlite"):
        return  # the query plan checked is SQLite's; PostgreSQL's depends on its statistics
    app = create_app(settings.with_(job_mode="worker"))
    ctx = app.extensions["hub"]
    statements: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE"):
            statements.append((statement, tuple(params)))

    queues = {
        "inbound_event": lambda: inbox.claim(ctx, limit=50),
        "notification": lambda: notifications._claim_rows(ctx, None, 50),
        "job": lambda: jobs.claim(ctx, limit=5),
        "webhook_delivery": lambda: outgoing.claim(ctx, 50),
    }
    for table, claim in queues.items():
        statements.clear()
        event.listen(ctx.db.engine, "before_cursor_execute", record)
        try:
            claim()
        finally:
            event.remove(ctx.db.engine, "before_cursor_execute", record)
        assert statements, table
        with ctx.db.engine.connect() as conn:
            for statement, params in statements:
                plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params)]
                assert not [p for p in plan if p.startswith(f"SCAN {table}") or "TEMP B-TREE" in p], (table, plan)
    ctx.db.dispose()
