"""Start-up of several processes at once on a fresh instance folder (issue 12, "Start-up").

Every process compiles the translation catalogues into ``<instance>/translations`` when they are missing
or stale (:func:`hub.i18n.compile_catalogues`). Many gunicorn workers start at the same moment; they
used to share one temporary file, and 5 of 23 fresh ``-w 3`` starts failed ("Worker failed to boot").
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving import free_port, wait_for_http

PROCESSES = 8
ROUNDS = 4


def _compile_and_load(target: str, barrier) -> None:
    """In a child process: wait for the others, compile, then load and use the Polish catalogue."""
    from hub import i18n

    barrier.wait(timeout=120)
    i18n.compile_catalogues(Path(target))
    translations = i18n.translations(Path(target).parent, "pl")
    assert translations.gettext("Service unavailable") == "Usługa niedostępna"


def test_many_processes_compile_the_catalogues_at_once(tmp_path):
    context = multiprocessing.get_context("spawn")  # no fork of pytest's threads
    for round_ in range(ROUNDS):
        instance = tmp_path / f"instance-{round_}"
        instance.mkdir()
        barrier = context.Barrier(PROCESSES)
        procs = [
            context.Process(target=_compile_and_load, args=(str(instance / "translations"), barrier))
            for _ in range(PROCESSES)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(timeout=180)
        codes = [p.exitcode for p in procs]
        assert codes == [0] * PROCESSES, f"round {round_}: exit codes {codes}"
        leftovers = [p.name for p in (instance / "translations").rglob("*") if p.name.endswith(".tmp")]
        assert leftovers == []


def _gunicorn() -> str:
    found = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or shutil.which("gunicorn")
    if not found:
        pytest.skip("gunicorn is not installed next to this Python")
    return found


@pytest.mark.parametrize("start", range(3))
def test_gunicorn_with_three_workers_boots_on_a_fresh_instance(tmp_path, start):
    gunicorn = _gunicorn()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(HUB_INSTANCE_PATH=str(tmp_path / "instance"), HUB_JOB_MODE="worker")
    init = subprocess.run(
        [sys.executable, "-m", "hub.cli", "init"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert init.returncode == 0, init.stderr
    shutil.rmtree(tmp_path / "instance" / "translations", ignore_errors=True)  # the workers compile them
    port = free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [gunicorn, "-w", "3", "-b", f"127.0.0.1:{port}", "--timeout", "300", "hub.wsgi:app"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        resp = wait_for_http(f"http://127.0.0.1:{port}/health", proc, log=log)
        assert resp.json() == {"status": "ok", "database": "ok"}
        # Every worker booted: none failed and none was replaced.
        for _ in range(6):
            assert wait_for_http(f"http://127.0.0.1:{port}/health", proc, log=log).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    assert "Worker failed to boot" not in text and "Traceback" not in text, text[-4000:]
    assert text.count("Booting worker") == 3, text[-4000:]
