"""The Moodle connector: a Moodle site as a ``ConnectorConfig`` row with ``kind="moodle"``.

``config``::

    {"site_url": "https://moodle.example.edu",        # the site's wwwroot
     "course_ids": [2, 7] and/or "course_idnumbers": ["SEC-101"],
     "competencies": true,                             # read achieved competencies (default true)
     "page_size": 200,                                 # users per core_enrol_get_enrolled_users page
     "withcapability": "moodle/course:isincompletionreports"}  # who is listed; "" lists everyone

The web-service token is stored encrypted in ``secrets_encrypted`` (a JSON list, newest first).
Registered as the entry point ``moodle = "moodle_bridge.connector:MoodleConnector"``.
"""

from __future__ import annotations

import json
import signal
from typing import Any, ClassVar
from urllib.parse import urlsplit

import click
from flask.cli import AppGroup

import moodle_bridge.models  # noqa: F401  (the bridge's tables join the hub's metadata for migrations)
from connectors.base import Connector
from connectors.types import LearningEvent
from hub.errors import ConfigurationError, EventNotProcessable, HubError
from hub.i18n import lazy as _l
from hub.i18n import number
from moodle_bridge.events import completion_event


class MoodleConnector(Connector):
    """Pull-side Moodle connector: validates site configs and adds the ``badgehub moodle`` commands."""

    kind: ClassVar[str] = "moodle"
    console_endpoint: ClassVar[str | None] = "moodle.site"

    def init_app(self, app) -> None:
        """Register the ``moodle`` CLI group: ``badgehub moodle sync SITE`` and ``... check SITE``."""
        app.cli.add_command(moodle_cli)

    def register_jobs(self) -> None:
        """The ``moodle.sync`` job kind: "Sync now" runs and each site's scheduled sync
        (:func:`moodle_bridge.sites.register_jobs`)."""
        from moodle_bridge.sites import register_jobs

        register_jobs()

    def console_blueprint(self):
        """Moodle sites in the console (:mod:`moodle_bridge.console`), mounted at ``/admin/moodle``."""
        from moodle_bridge.console import bp

        return bp

    def console_nav(self) -> list[tuple[str, str]]:
        """The "Moodle sites" menu entry."""
        from moodle_bridge.console import nav

        return nav()

    def api_blueprint(self):
        """``/api/v1/moodle``: sites, connection checks and syncs (:mod:`moodle_bridge.api`)."""
        from moodle_bridge.api import blp

        return blp

    def validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """Normalise a site config (see the module docstring).

        Raises:
            ConfigurationError: no http(s) ``site_url``, no courses, or malformed values.
        """
        out = dict(config)
        site_url = str(config.get("site_url") or "").rstrip("/")
        try:
            parts = urlsplit(site_url)
            bad = parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment
        except ValueError:  # e.g. an unclosed IPv6 bracket, or a port that is not a number
            bad = True
        if bad or any(c.isspace() for c in site_url):
            raise ConfigurationError(
                _l('the site address must be the Moodle site\'s http(s) address, not "%(value)s"', value=site_url),
                field="site_url",
            )
        out["site_url"] = site_url
        try:
            out["course_ids"] = [int(i) for i in config.get("course_ids") or []]
        except (TypeError, ValueError):
            raise ConfigurationError(
                _l("course ids must be a list of Moodle course ids (numbers)"), field="course_ids"
            ) from None
        out["course_idnumbers"] = [str(i) for i in config.get("course_idnumbers") or [] if str(i).strip()]
        if not out["course_ids"] and not out["course_idnumbers"]:
            raise ConfigurationError(_l("map at least one course: its id or its ID number"), field="course_ids")
        page_size = config.get("page_size", 200)
        if not isinstance(page_size, int) or not 1 <= page_size <= 5000:
            raise ConfigurationError(
                _l("learners per page must be a whole number from 1 to %(max)s", max=number(5000)), field="page_size"
            )
        out["competencies"] = bool(config.get("competencies", True))
        return out

    def normalise(self, connector_slug: str, config: dict[str, Any], body: str) -> LearningEvent:
        """Rebuild the event from a stored ``course_completed`` payload (the event's ``data``), for replays.

        Raises:
            EventNotProcessable: the body is not a completion payload.
        """
        try:
            return completion_event(connector_slug, json.loads(body))
        except (ValueError, KeyError, TypeError) as exc:
            raise EventNotProcessable(_l("not a Moodle completion payload: %(error)s", error=str(exc))) from None


moodle_cli = AppGroup("moodle", help="Moodle sites: check connections and sync course completions.")


def _ctx():
    from flask import current_app

    return current_app.extensions["hub"]


@moodle_cli.command("check")
@click.argument("site")
def check_command(site: str) -> None:
    """Check SITE's (connector slug or site URL) token and the functions its service offers. Says which
    connector it uses; an address several connectors share is refused (name one by its slug)."""
    from moodle_bridge.sync import client_for, find_connector

    ctx = _ctx()
    try:  # several sites with SITE's address: refused, naming their slugs
        with ctx.db.session_scope() as session:
            connector = find_connector(session, site)
            client = client_for(ctx, connector)
            competencies = bool(connector.config.get("competencies", True))
            click.echo(f"Moodle site {connector.slug} ({connector.name}): {connector.config.get('site_url')}")
    except HubError as exc:
        raise click.ClickException(exc.detail) from None
    try:
        info = client.check_connection(competencies=competencies)
    except HubError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        client.close()
    click.echo(f"{info.sitename} ({info.siteurl}), Moodle {info.release}, token user {info.username}: OK")


@moodle_cli.command("sync")
@click.argument("site", required=False)
@click.option("--all", "all_sites", is_flag=True, help="Sync every enabled Moodle connector.")
def sync_command(site: str | None, all_sites: bool) -> None:
    """Sync course completions of SITE (connector slug or site URL). Ctrl-C / SIGTERM stop after the
    current page; the next run resumes there."""
    from moodle_bridge.sync import sync_all, sync_connector

    if bool(site) == all_sites:
        raise click.UsageError("give a SITE or --all")
    stop = {"requested": False}

    def request_stop(signum, _frame):
        stop["requested"] = True
        click.echo("stopping after the current page...", err=True)

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        ctx = _ctx()

        def should_stop() -> bool:
            return stop["requested"]

        if all_sites or not site:
            reports = sync_all(ctx, should_stop=should_stop)
        else:
            reports = [sync_connector(ctx, site, should_stop=should_stop)]
    except HubError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    for report in reports:
        for course in report.courses:
            note = "done" if course.finished else "paused"
            if course.skipped_reason:
                note = f"skipped: {course.skipped_reason}"
            click.echo(
                f"{report.connector} course {course.course_id}: {course.users_seen} users, "
                f"{course.completed} completed, {course.submitted} new "
                f"({note}, from offset {course.resumed_from})"
            )
    if any(r.stopped for r in reports):
        raise SystemExit(3)  # stopped early: a scheduler can tell "resume me" from success
