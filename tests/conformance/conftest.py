"""Fixtures for the independent verifiers (tests marked ``conformance``)."""

import functools

import pytest

from tests.conformance import ob2_validator as harness


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
