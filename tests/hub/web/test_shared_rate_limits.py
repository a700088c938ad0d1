"""Rate limits over real HTTP with 2 gunicorn workers (issue 14, "Behind proxies").

The counts live in Redis (``HUB_REDIS_URL``) or in the database (SQLite file, PostgreSQL), so both
workers count together: the console's "5 per minute" per e-mail lets exactly 5 tries through. A client
that is not a trusted proxy cannot pick its address with ``X-Forwarded-For``: it neither gets a fresh
count per spoofed address nor sees it written to the access log.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.conftest import empty_tables
from tests.serving import free_port, wait_for_http

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REDIS_DB = "redis://127.0.0.1:6379/13"


def _gunicorn() -> str:
    found = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if not found:
        pytest.skip("gunicorn is not installed next to this Python")
    return found


@pytest.fixture(params=["database", "redis"])
def storage(request, db_url):
    """(extra environment, label): the database of ``db_url`` alone, or Redis beside it (emptied)."""
    if request.param == "redis":
        import redis

        client = redis.Redis.from_url(REDIS_DB)
        try:
            client.flushdb()
        except redis.exceptions.ConnectionError:
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        yield {"HUB_REDIS_URL": REDIS_DB}
        client.flushdb()
    else:
        yield {}
    empty_tables(db_url)


@pytest.fixture
def two_workers(tmp_path, db_url, storage):
    """gunicorn -w 2 on a free port, serving ``db_url`` (already migrated), access log to a file.
    Yields (base URL, log path)."""
    gunicorn = _gunicorn()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        HUB_INSTANCE_PATH=str(tmp_path / "instance"),
        HUB_DATABASE_URL=db_url,
        HUB_JOB_MODE="worker",
        HUB_SECRET_KEY="s" * 40,
        PYTHONUNBUFFERED="1",  # the access log reaches the file at once
        **storage,
    )
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "300", "--access-logfile", "-",
             "--access-logformat", '%(h)s pid=%(p)s "%(r)s" %(s)s', "hub.wsgi:app"],
            env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_for_http(f"http://127.0.0.1:{port}/health", proc, log=log)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _try_sign_in(base: str, email: str, spoofed: str | None = None) -> int:
    """One wrong-password sign-in through the real form (its own connection, so either worker may take
    it); returns the HTTP status."""
    http = requests.Session()
    headers = {"X-Forwarded-For": spoofed} if spoofed else {}
    token = CSRF.search(http.get(f"{base}/admin/login", headers=headers, timeout=30).text).group(1)
    r = http.post(
        f"{base}/admin/login",
        data={"email": email, "password": "wrong password", "csrf_token": token},
        headers=headers,
        timeout=30,
    )
    return r.status_code


def _burst(base: str, calls) -> list[int]:
    """Run the ``calls`` (zero-argument callables) four at a time, so both workers take some."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_five_per_minute_lets_exactly_five_through_two_workers(two_workers):
    base, log = two_workers
    statuses = _burst(base, [lambda: _try_sign_in(base, "nobody@example.org")] * 8)
    assert sorted(statuses) == [401] * 5 + [429] * 3, statuses
    served_by = set(re.findall(r'pid=<(\d+)> "POST /admin/login', log.read_text()))
    assert len(served_by) == 2, f"one worker took every request: {served_by}"


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(two_workers):
    base, log = two_workers
    # Each try another e-mail (the per-e-mail limit stays out of it) and another claimed address: the
    # per-address limit (10 per minute) still counts them all as 127.0.0.1.
    calls = [lambda n=n: _try_sign_in(base, f"user{n}@example.org", spoofed=f"203.0.113.{n}") for n in range(12)]
    statuses = _burst(base, calls)
    assert sorted(statuses) == [401] * 10 + [429] * 2, statuses
    text = log.read_text()
    assert "203.0.113." not in text, text[-2000:]
    assert re.search(r'^127\.0\.0\.1 pid=<\d+> "POST /admin/login', text, re.M)
