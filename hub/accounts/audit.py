"""The audit log: every change through the console, the API or the CLI, with before/after fields."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from hub.accounts.access import Principal
from hub.accounts.models import AuditEntry

# Never copied into the log, whatever the caller lists.
_SECRET_FIELDS = {"password_hash", "totp_secret_encrypted", "secrets_encrypted", "token_hash", "image"}


def snapshot(row, fields: Iterable[str]) -> dict:
    """The JSON-able values of ``fields`` of ``row`` (datetimes as ISO 8601, bytes left out)."""
    out = {}
    for name in fields:
        if name in _SECRET_FIELDS:
            continue
        value = getattr(row, name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bytes | bytearray):
            continue
        out[name] = value
    return out


def record(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: str | None,
    *,
    issuer_id: int | None = None,
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Add one audit entry to the caller's unit of work (it commits with the change it describes)."""
    entry = AuditEntry(
        actor_id=principal.user_id,
        actor=principal.email,
        via=principal.via,
        action=action,
        object_type=object_type,
        object_id=object_id,
        issuer_id=issuer_id,
        before=before,
        after=after,
    )
    session.add(entry)
    return entry
