"""Helpers for certificate and learner tests: awards made through the real webhook pipeline."""

from __future__ import annotations

import io
import shutil
import subprocess

import pytest
from pypdf import PdfReader

from hub.badges.models import Assertion
from tests.conftest import completion, post_event

POLISH_NAME = "Ąćęłńóśźż Żółć-Gęślą"
POLISH_LETTERS = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"


def award(client, ctx, factory, *, name=POLISH_NAME, email="zofia@example.edu", setup=None, **payload) -> str:
    """Set up (unless ``setup`` is given) and post one completion; returns the assertion's public id."""
    if setup is None:
        factory.setup(**(payload.pop("setup_kw", {}) or {}))
    resp = post_event(client, completion(email=email, name=name, **payload))
    assert resp.status_code in (200, 202), resp.get_data(as_text=True)
    with ctx.db.session_scope() as s:
        return (
            s.query(Assertion)
            .filter(Assertion.recipient_plain == email)
            .order_by(Assertion.id.desc())
            .first()
            .public_id
        )


def pdf_text(pdf: bytes) -> str:
    """The text layer (pypdf), whitespace collapsed to single spaces (line breaks fall anywhere)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def pdf_attachments(pdf: bytes) -> dict[str, bytes]:
    return {name: data[0] for name, data in PdfReader(io.BytesIO(pdf)).attachments.items()}


def pdfsig(path) -> str:
    """``pdfsig -nocert`` output (poppler-utils); skips the test when pdfsig is not installed."""
    exe = shutil.which("pdfsig")
    if exe is None:
        pytest.skip("pdfsig is not installed (Debian package poppler-utils)")
    return subprocess.run([exe, "-nocert", str(path)], capture_output=True, text=True, timeout=60).stdout
