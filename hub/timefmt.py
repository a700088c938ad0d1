"""One home for timestamp formatting: UTC, ISO 8601, ``Z`` suffix, whole seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def isoformat_z(value: datetime) -> str:
    """``2026-11-29T11:02:47Z`` for an aware datetime (converted to UTC; microseconds dropped).

    Raises:
        ValueError: ``value`` is naive.
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime; the hub only formats aware UTC datetimes")
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(value) -> datetime:
    """Parse an ISO 8601 string (``Z`` or offset; a naive one is taken as UTC) or a Unix time (s).

    Raises:
        ValueError: anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return datetime.fromtimestamp(int(text), UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise ValueError(f"not a timestamp: {value!r}")
