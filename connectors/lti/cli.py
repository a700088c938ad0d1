"""``badgehub lti``: list registrations, approve registrations and deployments, rotate the tool key,
check course grades (for a cron job)."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .models import ACTIVE, RULE_GRADE, LtiContext, LtiRegistration

lti_cli = AppGroup("lti", help="LTI 1.3 tool: registrations, deployments, keys, grade checks.")


def _ctx():
    return current_app.extensions["hub"]


@lti_cli.command("list")
def list_registrations():
    """Print every registration (JSON lines), with its deployments and their states."""
    from .registrations import registration_json

    with _ctx().db.session_scope() as session:
        for reg in session.scalars(select(LtiRegistration).order_by(LtiRegistration.id)):
            click.echo(json.dumps(registration_json(reg), ensure_ascii=False))


@lti_cli.command("approve")
@click.argument("registration")
@click.option("--deployment", help="approve this pending deployment_id instead of the registration")
def approve(registration: str, deployment: str | None):
    """Activate a registration (e.g. after dynamic registration), or one of its pending deployments."""
    from .registrations import approve_deployment, find_deployment, get_registration

    with _ctx().db.session_scope() as session:
        reg = get_registration(session, registration)
        if deployment:
            dep = find_deployment(session, reg, deployment)
            if dep is None:
                raise click.ClickException(f"no deployment {deployment!r} in {registration}")
            approve_deployment(session, dep)
        else:
            reg.status = ACTIVE
    click.echo("approved")


@lti_cli.command("rotate-key")
@click.option("--overlap-days", default=7.0, show_default=True, help="days the old key stays published")
def rotate_key(overlap_days: float):
    """Make a new tool key; the old one stays in the JWKS during the overlap."""
    from .registrations import rotate_tool_key

    with _ctx().db.session_scope() as session:
        key = rotate_tool_key(session, _ctx(), timedelta(days=overlap_days))
        click.echo(key.kid)


@lti_cli.command("sync-grades")
def sync_grades():
    """Read AGS results for every course with the grade rule and award the linked badges."""
    from .errors import LtiError
    from .services import sync_grades as sync
    from .store import make_store

    ctx = _ctx()
    store = make_store(ctx)
    with ctx.db.session_scope() as session:
        ids = session.scalars(select(LtiContext.id).where(LtiContext.award_rule == RULE_GRADE)).all()
    for context_id in ids:
        try:
            outcome = sync(ctx, store, context_id)
            click.echo(f"context {context_id}: {outcome.awarded} awarded, {outcome.below} below threshold")
        except LtiError as exc:
            click.echo(f"context {context_id}: {exc.reason}", err=True)
