"""The base marshmallow schema of every JSON API body and query: the hub's ``/api/v1`` and the
connectors' API routes (which may not import :mod:`hub.web`) read input the same way."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, pre_load
from marshmallow import ValidationError as MarshmallowError


def has_nul(value) -> bool:
    """Whether ``value`` (text, or dicts/lists of it, keys included) contains a NUL character."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


class ApiSchema(Schema):
    """Unknown fields are ignored; text with NUL is refused (422), since PostgreSQL text cannot hold it
    and the database must not be the one to say so."""

    class Meta:
        unknown = EXCLUDE

    @pre_load(pass_collection=True)
    def _refuse_nul(self, data, **_kw):
        if has_nul(data if isinstance(data, dict | list) else dict(data)):
            raise MarshmallowError("text must not contain NUL characters")
        return data
