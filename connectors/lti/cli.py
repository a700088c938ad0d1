"""``badgehub lti``: list registrations, approve (assigning an issuer) or deactivate registrations and
deployments, rotate the tool key, check course grades now (the job runner also does it on its own
schedule, ``HUB_LTI_GRADE_SYNC_MINUTES``). Changes are audit-logged as made ``via`` ``cli``."""

from __future__ import annotations

import json
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .models import ACTIVE, INACTIVE, RULE_GRADE, LtiContext, LtiRegistration

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


def _set_status(registration: str, deployment: str | None, status: str, issuer: str | None = None) -> None:
    from hub.errors import HubError

    from . import actions

    try:
        with _ctx().db.session_scope() as session:
            reg = actions.load_registration(session, actions.CLI, registration, write=True)
            if deployment:
                dep = actions.find_deployment(session, reg, deployment)
                actions.set_deployment_status(session, actions.CLI, dep, status)
            else:
                actions.set_registration_status(session, actions.CLI, reg, status, badge_issuer=issuer)
    except HubError as exc:
        raise click.ClickException(str(exc)) from None


@lti_cli.command("approve")
@click.argument("registration")
@click.option("--deployment", help="approve this pending deployment_id instead of the registration")
@click.option(
    "--issuer",
    help="public id of the issuer the platform belongs to (its teachers see only its badges); "
    "required unless the registration has one",
)
def approve(registration: str, deployment: str | None, issuer: str | None):
    """Activate a registration (e.g. after dynamic registration), assigning it to an issuer, or one of
    its pending deployments."""
    _set_status(registration, deployment, ACTIVE, issuer)
    click.echo("approved")


@lti_cli.command("assign")
@click.argument("registration")
@click.argument("issuer")
def assign(registration: str, issuer: str):
    """Make a registration belong to ISSUER (a public id): its teachers see only that issuer's badges."""
    from hub.errors import HubError

    from . import actions

    try:
        with _ctx().db.session_scope() as session:
            reg = actions.load_registration(session, actions.CLI, registration, write=True)
            actions.assign_issuer(session, actions.CLI, reg, issuer)
    except HubError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("assigned")


@lti_cli.command("deactivate")
@click.argument("registration")
@click.option("--deployment", help="deactivate this deployment_id instead of the registration")
def deactivate(registration: str, deployment: str | None):
    """Refuse launches of a registration, or of one of its deployments, from now on."""
    _set_status(registration, deployment, INACTIVE)
    click.echo("deactivated")


@lti_cli.command("rotate-key")
@click.option("--overlap-days", default=7.0, show_default=True, help="days the old key stays published")
def rotate_key(overlap_days: float):
    """Make a new tool key; the old one stays in the JWKS during the overlap."""
    from . import actions

    with _ctx().db.session_scope() as session:
        key = actions.rotate_tool_key(session, _ctx(), actions.CLI, timedelta(days=overlap_days))
        click.echo(key.kid)


@lti_cli.command("sync-grades")
def sync_grades():
    """Read AGS results for every course with the grade rule and award the linked badges, now (inline;
    the job runner does the same every ``HUB_LTI_GRADE_SYNC_MINUTES`` as ``lti.grade_sync`` jobs)."""
    from hub.errors import HubError

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
        except HubError as exc:  # the platform failed, or the registration has no issuer
            click.echo(f"context {context_id}: {getattr(exc, 'reason', None) or exc}", err=True)
