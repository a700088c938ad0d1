"""The README's main job: ``badgehub demo`` on a fresh SQLite file, run as a new user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_and_verifies_its_output(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env["HUB_INSTANCE_PATH"] = str(tmp_path / "instance")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "hub.cli", "demo", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "demo: OK" in proc.stdout and proc.stdout.count("verify ") == 6
    names = sorted(p.name for p in out.iterdir())
    for name in ("assertion-png-badge.json", "assertion-png-badge.jws", "baked.png", "baked.svg"):
        assert name in names
    assertion = json.loads((out / "assertion-png-badge.json").read_text())
    assert assertion["type"] == "Assertion"
    assert Path(out / "demo.db").exists()
