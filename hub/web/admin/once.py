"""Secrets shown once, after a redirect (POST/redirect/GET).

A form that makes a secret (an API token, a webhook signing secret) answers with a redirect; the page it
leads to shows the secret once. So reloading that page, or going back to it, never repeats the POST (no
second token, no second rotation) and never shows the secret again. Between the two requests the
secret waits in the signed session cookie, encrypted with ``HUB_KEY_ENCRYPTION_KEY`` (the cookie is
signed, not encrypted, by Flask), and the first page that reads it removes it.
"""

from __future__ import annotations

from flask import session

from hub.context import current_context
from hub.errors import ConfigurationError

_PREFIX = "once:"


def keep(name: str, secret: str) -> None:
    """Hold ``secret`` for the next :func:`take` of ``name`` in this browser session."""
    session[_PREFIX + name] = current_context().box.encrypt(secret.encode("utf-8"))


def take(name: str) -> str | None:
    """The secret kept under ``name``, removed as it is read; None when there is none (already shown, or
    kept with a key encryption key no longer configured)."""
    token = session.pop(_PREFIX + name, None)
    if not token:
        return None
    try:
        return current_context().box.decrypt(token).decode("utf-8")
    except ConfigurationError:
        return None
