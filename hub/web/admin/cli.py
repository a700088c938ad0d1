"""``badgehub users create-admin EMAIL``: the first site administrator (and later ones)."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from hub.accounts import audit
from hub.accounts import services as accounts
from hub.accounts.access import Principal
from hub.errors import ValidationError


@click.group(cls=AppGroup)
def users() -> None:
    """Manage console users."""


@users.command("create-admin")
@click.argument("email")
@click.option("--name", default=None, help="Display name.")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (for scripts) instead of a prompt."
)
def create_admin(email: str, name: str | None, password_stdin: bool) -> None:
    """Create a site administrator who can sign in at /admin with EMAIL and a password."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    ctx = current_app.extensions["hub"]
    try:
        with ctx.db.session_scope() as session:
            user = accounts.create_user(session, email=email, password=password, name=name, site_admin=True)
            audit.record(
                session,
                Principal(None, "cli", via="cli"),
                "user.create",
                "user",
                user.public_id,
                after={"email": user.email, "is_site_admin": True},
            )
    except ValidationError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"site administrator {user.email} created; sign in at {ctx.urls.base}/admin/login")
