"""Reading console form fields into service arguments (the services validate the values)."""

from __future__ import annotations

import json

from flask import request

from hub.errors import ValidationError
from hub.i18n import lazy as _l

#: Form fields as people read them in messages (the ``field`` member keeps the form field's name).
FIELD_NAMES = {
    "expires_after_days": _l("expires after (days)"),
    "mapping": _l("payload mapping"),
    "example": _l("example payload"),
}


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
        raise ValidationError(
            _l("%(field)s must be a whole number", field=FIELD_NAMES.get(name, name)), field=name
        ) from None


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
        raise ValidationError(
            _l("%(field)s is not valid JSON: %(error)s", field=FIELD_NAMES.get(name, name), error=str(exc)), field=name
        ) from None


def lines(name: str) -> list[str]:
    return [t.strip() for t in (request.form.get(name) or "").replace(",", "\n").splitlines() if t.strip()]


def alignments(name: str) -> list[dict]:
    """OB 2.0 AlignmentObjects from lines ``targetName | targetUrl | targetFramework | targetCode``."""
    out = []
    for n, line in enumerate((request.form.get(name) or "").splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split("|")] + ["", "", "", ""]
        if not parts[0] or not parts[1].startswith(("http://", "https://")):
            raise ValidationError(_l("alignment line %(n)s: give a name and an http(s) URL", n=n), field=name)
        doc = {"targetName": parts[0], "targetUrl": parts[1]}
        if parts[2]:
            doc["targetFramework"] = parts[2]
        if parts[3]:
            doc["targetCode"] = parts[3]
        out.append(doc)
    return out


def alignments_text(items: list[dict]) -> str:
    return "\n".join(
        " | ".join(
            [a.get("targetName", ""), a.get("targetUrl", ""), a.get("targetFramework", ""), a.get("targetCode", "")]
        ).rstrip(" |")
        for a in items or []
    )
