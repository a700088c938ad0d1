"""Jobs in the console and the API: state, attempts, last error and progress, scoped by issuer, and a
retry for a failed job (audited). SQLite and PostgreSQL (the ``world`` fixture)."""

from __future__ import annotations

from sqlalchemy import select

from hub import jobs
from hub.accounts.models import AuditEntry
from hub.jobs.models import Job
from hub.jobs.runner import Runner
from tests.hub.web.conftest import post_form, sign_in

ADMIN = {"Authorization": "Bearer admin-token"}


def _failed_job(ctx, issuer_id) -> str:
    def boom(ctx_, run):
        raise RuntimeError("the site answered 500")

    jobs.register("test.boom", boom, max_attempts=1)
    with ctx.db.session_scope() as s:
        public_id = jobs.enqueue(s, "test.boom", {"x": 1}, issuer_id=issuer_id).public_id
    Runner(ctx).drain()
    return public_id


def test_api_lists_shows_and_retries_jobs_within_the_callers_issuers(client, ctx, world):
    try:
        job_a = _failed_job(ctx, world["a"]["issuer_id"])
        listed = client.get("/api/v1/jobs?status=failed", headers=ADMIN).get_json()
        (item,) = [i for i in listed["items"] if i["id"] == job_a]
        assert (item["kind"], item["status"], item["attempts"], item["max_attempts"]) == ("test.boom", "failed", 1, 1)
        assert item["last_error"] == "RuntimeError: the site answered 500" and item["finished_at"]
        # Issuer B's administrator sees no job of issuer A (not found, not forbidden).
        b = {"Authorization": f"Bearer {world['token_b']}"}
        assert all(i["id"] != job_a for i in client.get("/api/v1/jobs", headers=b).get_json()["items"])
        assert client.get(f"/api/v1/jobs/{job_a}", headers=b).status_code == 404
        assert client.post(f"/api/v1/jobs/{job_a}/retry", headers=b).status_code == 404

        retried = client.post(f"/api/v1/jobs/{job_a}/retry", headers=ADMIN)
        assert retried.status_code == 200, retried.get_json()
        # Sync mode: it ran again after the commit, and failed again.
        again = client.get(f"/api/v1/jobs/{job_a}", headers=ADMIN).get_json()
        assert again["status"] == "failed" and again["attempts"] == 1
        with ctx.db.session_scope() as s:
            entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "job.retry"))
            assert entry.object_id == job_a and entry.before["status"] == "failed" and entry.via == "api"
        with ctx.db.session_scope() as s:
            s.scalar(select(Job).where(Job.public_id == job_a)).status = "done"
        refused = client.post(f"/api/v1/jobs/{job_a}/retry", headers=ADMIN)
        assert refused.status_code == 409 and refused.mimetype == "application/problem+json"
    finally:
        jobs.KINDS.pop("test.boom", None)


def test_console_shows_jobs_and_retries_a_failed_one(app, client, ctx, world):
    try:
        job_a = _failed_job(ctx, world["a"]["issuer_id"])
        other = app.test_client()
        sign_in(other, "admin-b@example.org")
        assert job_a not in other.get("/admin/jobs").get_data(as_text=True)
        sign_in(client, "admin-a@example.org")
        page = client.get("/admin/jobs?status=failed").get_data(as_text=True)
        assert "the site answered 500" in page and f"/admin/jobs/{job_a}/retry" in page
        r = post_form(client, f"/admin/jobs/{job_a}/retry")
        assert r.status_code == 302
        with ctx.db.session_scope() as s:
            assert s.scalar(select(AuditEntry).where(AuditEntry.action == "job.retry")).actor == "admin-a@example.org"
    finally:
        jobs.KINDS.pop("test.boom", None)
