"""``badgehub users create-admin EMAIL``: the first site administrator (and later ones);
``badgehub issuers credential-settings ISSUER_ID [--did-method ...]``: an issuer's OB 3.0 settings;
``badgehub badges micro-credential BADGE_ID FILE``: a badge class's EU micro-credential description."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from hub.accounts import audit
from hub.accounts import services as accounts
from hub.accounts.access import Principal
from hub.credentials import ob3keys
from hub.credentials.models import DID_METHODS, JWT_ALGORITHMS, PROOF_FORMATS
from hub.errors import HubError, ValidationError
from hub.i18n import english
from hub.operations import actions


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


#: The operator at a shell (who has the server's keys anyway): a site administrator in the audit log.
CLI = Principal(None, "cli", site_admin=True, via="cli")


@click.group(cls=AppGroup)
def issuers() -> None:
    """Manage issuers."""


@issuers.command("credential-settings")
@click.argument("issuer_id")
@click.option("--did-method", type=click.Choice(DID_METHODS), help="web: did:web (default); key: did:key.")
@click.option("--proof-format", type=click.Choice(PROOF_FORMATS), help="Default proof of OB 3.0 credentials.")
@click.option("--jwt-algorithm", type=click.Choice(JWT_ALGORITHMS), help="Default VC-JWT alg (did:key: EdDSA).")
def credential_settings(
    issuer_id: str, did_method: str | None, proof_format: str | None, jwt_algorithm: str | None
) -> None:
    """Show or change how ISSUER_ID's Open Badges 3.0 credentials are made (audited). Without options,
    prints the current settings. Exit 1 with the reason when a value or combination is refused."""
    ctx = current_app.extensions["hub"]
    try:
        with ctx.db.session_scope() as session:
            issuer = ob3keys.find_issuer(session, issuer_id)
            if did_method or proof_format or jwt_algorithm:
                actions.set_credential_settings(
                    session,
                    ctx,
                    CLI,
                    issuer,
                    did_method=did_method,
                    proof_format=proof_format,
                    jwt_algorithm=jwt_algorithm,
                )
            shown = ob3keys.settings_json(session, ctx, issuer)
    except HubError as exc:
        raise click.ClickException(english(exc.detail)) from None
    for key, value in shown.items():
        click.echo(f"{key}: {value if value is not None else '-'}")


@click.group(cls=AppGroup)
def badges() -> None:
    """Manage badge classes."""


@badges.command("micro-credential")
@click.argument("badge_id")
@click.argument("description", type=click.File("r", encoding="utf-8"), default="-")
def micro_credential(badge_id: str, description) -> None:
    """Describe BADGE_ID as an EU micro-credential from a JSON file (``-``: standard input), the shape of
    ``PUT /api/v1/frameworks/badges/<id>/micro-credential`` (``{"ects": 2.5, "workload_hours": 60,
    "eqf_level": 6, ...}``); the same operation as the console and the API, audited. Numbers must have
    the portable form (at most two decimal places, 0.01-10,000; levels 1-8). Prints the mandatory
    elements still missing; exit 1 with the reason (naming the field) when a value is refused."""
    from hub.badges.models import BadgeClass
    from hub.errors import NotFound
    from hub.frameworks import microcredentials

    ctx = current_app.extensions["hub"]
    try:
        data = json.load(description)
    except ValueError as exc:
        raise click.ClickException(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise click.ClickException("the description must be a JSON object")
    try:
        with ctx.db.session_scope() as session:
            badge = session.query(BadgeClass).filter_by(public_id=badge_id).one_or_none()
            if badge is None:
                raise NotFound(f"no badge class {badge_id}")
            actions.describe_micro_credential(session, CLI, badge, data)
            missing = microcredentials.missing_elements(session, badge)
    except HubError as exc:
        field = exc.extra.get("field")
        raise click.ClickException(english(exc.detail) + (f" (field {field})" if field else "")) from None
    click.echo("saved; missing: " + (", ".join(missing) if missing else "nothing"))
