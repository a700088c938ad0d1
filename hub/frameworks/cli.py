"""``badgehub frameworks ...``: load the bundled EQF/PRK data, import ESCO and custom frameworks, search,
map platform outcomes. Register with ``main.add_command(hub.frameworks.cli.frameworks)`` in
:mod:`hub.cli` (a FlaskGroup, so commands run inside the app context).

Exit codes: 0 success, 1 import refused / not found (the errors go to stderr, one per line).
"""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from hub.errors import HubError
from hub.i18n import english


def _ctx():
    return current_app.extensions["hub"]


def _fail(exc: HubError) -> None:
    # English, like every operator-facing output (the messages are translated for console and API users).
    click.echo(f"error: {english(exc.detail)}", err=True)
    for e in getattr(exc, "errors", []) or []:
        click.echo(f"  {e.where}: {english(e.message)}" if hasattr(e, "where") else f"  {e}", err=True)
    sys.exit(1)


@click.group()
def frameworks() -> None:
    """Qualifications frameworks: EQF, PRK, ESCO and custom descriptors."""


@frameworks.command("load-bundled")
@with_appcontext
def load_bundled() -> None:
    """Load or refresh the bundled EQF and PRK levels (config/frameworks/)."""
    from hub.frameworks import services

    with _ctx().db.session_scope() as s:
        counts = services.load_bundled(s)
    for ident, n in counts.items():
        click.echo(f"{ident}: {n} descriptors")


@frameworks.command("import-esco")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", type=click.Choice(["skills", "occupations"]), required=True)
@click.option("--language", type=click.Choice(["en", "pl"]), required=True, help="The file's language.")
@with_appcontext
def import_esco(path: str, kind: str, language: str) -> None:
    """Import an ESCO CSV export file (skills_<lang>.csv / occupations_<lang>.csv). Idempotent."""
    from hub.frameworks import importers

    try:
        with _ctx().db.session_scope() as s, open(path, "rb") as fh:
            result = importers.import_esco(s, fh, kind=kind, language=language)
    except HubError as exc:
        _fail(exc)
    click.echo(f"{result.framework}: {result.rows} rows imported ({language})")


@frameworks.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--identifier", help="CSV only: the framework's identifier (slug).")
@click.option("--name-en", help="CSV only: the framework's English name.")
@click.option("--name-pl", help="CSV only: the framework's Polish name.")
@click.option("--url", help="CSV only: the framework's URL.")
@click.option("--target-type", help="CSV only: OB 3.0 targetType of its descriptors (ext:Name, ceasn:Competency...).")
@with_appcontext
def import_custom(path: str, identifier, name_en, name_pl, url, target_type) -> None:
    """Import a custom framework from CSV or JSON (format in README.md, "Frameworks"). Idempotent."""
    from hub.frameworks import importers

    try:
        with _ctx().db.session_scope() as s, open(path, "rb") as fh:
            if path.lower().endswith(".json"):
                result = importers.import_custom_json(s, fh)
            else:
                if not (identifier and name_en and url):
                    raise click.UsageError("a CSV import needs --identifier, --name-en and --url")
                result = importers.import_custom_csv(
                    s, fh, identifier=identifier, name_en=name_en, name_pl=name_pl, url=url, target_type=target_type
                )
    except HubError as exc:
        _fail(exc)
    click.echo(f"{result.framework}: {result.rows} rows imported")


@frameworks.command("search")
@click.argument("query")
@click.option("--framework", help="Only this framework (identifier).")
@click.option("--limit", default=20, show_default=True, type=int)
@with_appcontext
def search(query: str, framework: str | None, limit: int) -> None:
    """Search descriptors by code or label (English or Polish)."""
    from hub.frameworks import services

    try:
        with _ctx().db.session_scope() as s:
            found = services.search_descriptors(s, query, framework=framework, limit=limit)
            for d in found:
                click.echo(f"{d.framework.identifier}:{d.code}\t{d.name_en or ''}\t{d.name_pl or ''}\t{d.url}")
            if not found:
                # stderr, so scripts reading the tab-separated rows see none
                click.echo(f"no descriptor matches {query!r}" + (f" in {framework}" if framework else ""), err=True)
    except HubError as exc:
        _fail(exc)


@frameworks.command("map-outcome")
@click.argument("outcome_key")
@click.argument("descriptor")
@click.option("--connector", help="Connector slug; without it the mapping applies to every connector.")
@with_appcontext
def map_outcome(outcome_key: str, descriptor: str, connector: str | None) -> None:
    """Map a platform outcome key (e.g. a Moodle competency idnumber) to DESCRIPTOR (framework:code)."""
    from hub.connections.models import ConnectorConfig
    from hub.errors import NotFound
    from hub.frameworks import services

    try:
        with _ctx().db.session_scope() as s:
            connector_id = None
            if connector:
                connector_id = s.scalar(select(ConnectorConfig.id).where(ConnectorConfig.slug == connector))
                if connector_id is None:
                    raise NotFound(f"no connector {connector!r}")
            services.map_outcome(s, connector_id, outcome_key, services.descriptor_ref(s, descriptor))
    except HubError as exc:
        _fail(exc)
    click.echo(f"{outcome_key} -> {descriptor}" + (f" (connector {connector})" if connector else ""))
