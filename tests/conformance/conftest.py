"""Fixtures for the independent verifiers (tests marked ``conformance``)."""

import functools
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conformance import ob2_validator as harness

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def ob2_validator_venv():
    """Path of the OB 2.0 validator venv (built on first use; skips the test if it cannot be)."""
    try:
        return harness.ensure_validator_venv()
    except harness.ValidatorUnavailable as exc:
        pytest.skip(f"OB 2.0 validator (PyPI openbadges 1.1.2) unavailable: {exc}")


@pytest.fixture(scope="session")
def ob2_validator(ob2_validator_venv):
    """``verify(badge_input, *, recipient_email=None, ...) -> dict``: ``ob2_validator.verify`` (in
    this folder) bound to the session's validator venv; see it for the inputs and the report's shape."""
    return functools.partial(harness.verify, venv=ob2_validator_venv)


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """``npm ci`` once (kept in tests/conformance/node_modules); skip when npm or the registry is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Node.js and npm are needed for the independent verifiers")
    marker = HERE / "node_modules" / ".package-lock.json"
    lock = HERE / "package-lock.json"
    if not marker.exists() or marker.stat().st_mtime < lock.stat().st_mtime:
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, capture_output=True, text=True, timeout=600
        )
        if done.returncode != 0:
            pytest.skip(f"npm ci failed (is the npm registry reachable?): {done.stderr[-500:]}")
    return HERE / "node_modules"
