"""The ``badgehub`` command line as a user runs it: real processes, readable errors."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.serving import free_port, wait_for_http


def run(args, tmp_path, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    base.update(HUB_INSTANCE_PATH=str(tmp_path / "instance"), **env)
    return subprocess.run(
        [sys.executable, "-m", "hub.cli", *args], env=base, capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


def test_serve_answers_requests(tmp_path):
    assert run(["init"], tmp_path).returncode == 0
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_INSTANCE_PATH=str(tmp_path / "instance"))  # no HUB_BASE_URL: the served address is used
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub.cli", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        # However long a loaded machine takes to start it (bounded by START_TIMEOUT_SECONDS).
        resp = wait_for_http(f"http://127.0.0.1:{port}/health", proc, log=log)
        assert resp.json() == {"status": "ok", "database": "ok"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert f"serving http://127.0.0.1:{port} (console: http://127.0.0.1:{port}/admin/login)" in log.read_text()


def test_database_not_initialised_is_one_readable_line(tmp_path):
    done = run(["users", "create-admin", "admin@example.org", "--password-stdin"], tmp_path)
    assert done.returncode == 1
    assert "badgehub init" in done.stderr and "Traceback" not in done.stderr


def test_bad_database_url_is_a_configuration_error(tmp_path):
    done = run(["init"], tmp_path, HUB_DATABASE_URL="garbage")
    assert done.returncode == 1
    assert "HUB_DATABASE_URL" in done.stderr and "Traceback" not in done.stderr


def test_search_without_matches_says_so_on_stderr(tmp_path):
    assert run(["init"], tmp_path).returncode == 0
    assert run(["frameworks", "load-bundled"], tmp_path).returncode == 0
    found = run(["frameworks", "search", "4"], tmp_path)
    assert found.returncode == 0 and "eqf:4" in found.stdout
    none = run(["frameworks", "search", "no-such-descriptor"], tmp_path)
    assert none.returncode == 0 and none.stdout == "" and "no descriptor matches" in none.stderr
