"""The console's sign-in cookie carries the configured name and lasts the configured hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from hub.accounts import services as accounts
from tests.hub.web.conftest import PASSWORD, sign_in


def test_console_sign_in_cookie_follows_the_session_settings(client, ctx):
    with ctx.db.session_scope() as s:
        accounts.create_user(s, email="site@example.org", password=PASSWORD, site_admin=True)
    resp = sign_in(client, "site@example.org")
    cookies = [h for h in resp.headers.getlist("Set-Cookie") if h.startswith("badgehub_session=")]
    assert cookies, resp.headers.getlist("Set-Cookie")
    expires = parsedate_to_datetime(cookies[-1].split("Expires=", 1)[1].split(";", 1)[0])
    left = expires - datetime.now(UTC)
    assert timedelta(hours=11) < left <= timedelta(hours=12)  # not Flask's 31 days
