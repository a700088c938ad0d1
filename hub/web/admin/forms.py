"""Reading console form fields into service arguments (the services validate the values)."""

from __future__ import annotations

import json

from flask import request

from hub.errors import ValidationError


def text(name: str) -> str | None:
    """The stripped field, or None when empty."""
    return (request.form.get(name) or "").strip() or None


def number(name: str) -> int | None:
    raw = text(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(f"{name} must be a whole number", field=name) from None


def checked(name: str) -> bool:
    return request.form.get(name) in ("on", "1", "true")


def upload(name: str) -> bytes | None:
    """The uploaded file's bytes, or None when no file was chosen."""
    f = request.files.get(name)
    data = f.read() if f else b""
    return data or None


def json_field(name: str, default=None):
    raw = text(name)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationError(f"{name} is not valid JSON: {exc}", field=name) from None


def lines(name: str) -> list[str]:
    return [t.strip() for t in (request.form.get(name) or "").replace(",", "\n").splitlines() if t.strip()]
