"""Helpers for tests that start a real server process: a free port, and waiting until it answers.

Waits poll with a long bound (a loaded CI machine may take many seconds to import and start the app)
and never sleep a fixed time; they fail early with the process's output when the process exits.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import requests

START_TIMEOUT_SECONDS = 120.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _output(proc: subprocess.Popen | None, log: Path | None) -> str:
    if log is not None and log.exists():
        return log.read_text(errors="replace")[-4000:]
    if proc is not None and proc.stdout is not None and proc.poll() is not None:
        return (proc.stdout.read() or "")[-4000:]
    return ""


def wait_for_http(
    url: str,
    proc: subprocess.Popen | None = None,
    *,
    log: Path | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
    ok_status: int | None = 200,
) -> requests.Response:
    """GET ``url`` until it answers (with ``ok_status``, unless None: any status), for up to ``timeout`` s.

    Returns the first such response. Fails the test (``AssertionError``) when ``proc`` exits first or the
    time runs out, with the process's output (from ``log``, a file its output goes to, or its stdout
    pipe) in the message.
    """
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode} before answering:\n{_output(proc, log)}")
        try:
            resp = requests.get(url, timeout=5)
            if ok_status is None or resp.status_code == ok_status:
                return resp
            last = f"HTTP {resp.status_code}: {resp.text[:200]}"
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout:.0f} s (last: {last}):\n{_output(proc, log)}")
