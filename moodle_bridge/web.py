"""What the bridge's console screens and API routes share with the hub's request handling."""

from __future__ import annotations

from hub.context import request_session


def db_session():
    """The request's database session (the hub's one per request; :func:`hub.context.request_session`).
    Views that write commit it."""
    return request_session()
