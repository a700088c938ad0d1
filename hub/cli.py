"""``badgehub`` command line: init | serve | worker | demo.

Messages for people go to stdout/stderr here (the only place ``print``/``click.echo`` is used).
Exit codes: 0 success, 1 failure, 2 usage or configuration error.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

import click
from flask.cli import FlaskGroup

from hub.errors import ConfigurationError
from hub.settings import load_settings


def _settings(**overrides):
    try:
        settings = load_settings()
    except ConfigurationError as exc:
        raise click.ClickException(f"configuration error: {exc.detail}") from None
    return settings.with_(**{k: v for k, v in overrides.items() if v is not None})


class HubGroup(FlaskGroup):
    """The ``badgehub`` group: a FlaskGroup (so connectors' ``app.cli`` commands appear) that turns the
    hub's errors and database failures into one readable line instead of a traceback."""

    def invoke(self, ctx):
        from sqlalchemy.exc import OperationalError, ProgrammingError

        from hub.errors import HubError

        try:
            return super().invoke(ctx)
        except HubError as exc:
            raise click.ClickException(str(exc)) from None
        except (OperationalError, ProgrammingError) as exc:
            message = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
            hint = (
                "run 'badgehub init'"
                if "no such table" in message or "does not exist" in message
                else ("check HUB_DATABASE_URL and that the database server is running")
            )
            raise click.ClickException(f"database error: {message} ({hint})") from None
        except OSError as exc:
            raise click.ClickException(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None


def _create_app():
    from hub import create_app

    return create_app(_settings())


# A FlaskGroup, so commands that connectors add to ``app.cli`` in ``init_app`` (e.g. ``badgehub moodle
# sync``) appear here with an app context, without the hub importing any connector.
@click.group(cls=HubGroup, create_app=_create_app, add_default_commands=False, load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """Badge Hub: learning platforms in, signed Open Badges out. Settings come from HUB_* variables."""


def _add_domain_commands() -> None:
    from hub.frameworks.cli import frameworks

    main.add_command(frameworks)


# The hub's own commands build what they need: Flask's default app context would build a second app,
# logging at the default level before a command (the demo) chose its own.
@main.command(with_appcontext=False)
def init() -> None:
    """Create the database, or upgrade it to the latest schema; then make what public pages read and
    older data may lack (issuer keys, status entries, signing certificates: a GET never makes them)."""
    from hub import configure_logging
    from hub.context import HubContext
    from hub.migrations import upgrade
    from hub.operations.backfill import backfill

    settings = _settings()
    configure_logging(settings.log_level)
    upgrade(settings.database_url)
    ctx = HubContext.from_settings(settings)
    try:
        with ctx.db.session_scope() as session:
            made = backfill(session, ctx)
    finally:
        ctx.db.dispose()
    if any(made.values()):
        click.echo(", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in made.items() if n))
    click.echo(f"database ready: {settings.database_url.split('@')[-1]}")


@main.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the development server (use gunicorn 'hub.wsgi:app' in production). Without HUB_BASE_URL,
    badge URLs use the address served here."""
    import os

    from werkzeug.serving import run_simple

    from hub import create_app

    overrides = {}
    if not os.environ.get("HUB_BASE_URL"):
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        overrides["base_url"] = f"http://{shown}:{port}"
    settings = _settings(**overrides)
    click.echo(f"serving {settings.base_url} (console: {settings.base_url}/admin/login)", err=True)
    app = create_app(settings)
    app.extensions["hub.jobs"].start()
    # run_simple, not app.run: Flask ignores app.run() inside its own CLI (FLASK_RUN_FROM_CLI).
    run_simple(host, port, app, threaded=True)


@main.command(with_appcontext=False)
@click.option("--once", is_flag=True, help="Process what is pending, then exit.")
def worker(once: bool) -> None:
    """Run the job runner (events, e-mails, jobs, the schedule) until stopped; SIGINT/SIGTERM finish the
    batch at hand first. Use with HUB_JOB_MODE=worker; any number of workers share the work."""
    from hub import configure_logging
    from hub.context import HubContext
    from hub.jobs import attach
    from hub.jobs.runner import Runner, load_kinds

    settings = _settings()
    configure_logging(settings.log_level)
    load_kinds()
    ctx = HubContext.from_settings(settings)
    runner = Runner(ctx)
    attach(ctx, runner)
    if once:
        done = runner.drain()
    else:
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        threads = [threading.Thread(target=runner.loop, args=(stop,), daemon=True) for _ in range(runner.threads - 1)]
        for t in threads:
            t.start()
        runner.loop(stop)
        for t in threads:
            t.join(30)
        done = runner.events_done
    click.echo(f"worker stopped; {done} events processed")


@main.command(with_appcontext=False)
@click.option("--out", default="./demo-out", show_default=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--serve", "keep_serving", is_flag=True, help="Keep serving the badge pages after the demo.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Serve on 127.0.0.1:PORT (default: a free port)."
)
def demo(out: Path, keep_serving: bool, port: int | None) -> None:
    """Send a signed course-completion event through the real HTTP stack, then write and verify every
    form of the badges it earns (OB 2.0, OB 3.0, the signed PDF certificate).

    Uses HUB_DATABASE_URL if set, else a fresh SQLite file in the output folder.
    """
    import os

    from hub.demo import check_port, run_demo

    # The demo prints its own report; INFO lines (migrations, awards, the console e-mails) would drown it.
    # HUB_LOG_LEVEL=INFO shows them, including the award e-mails with their claim links.
    overrides = {} if os.environ.get("HUB_LOG_LEVEL") else {"log_level": "WARNING"}
    if not os.environ.get("HUB_DATABASE_URL"):
        db = out.resolve() / "demo.db"
        out.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        overrides["database_url"] = f"sqlite:///{db}"
    if port:  # checked here, not around the whole demo: a failed download is an OSError too (requests)
        try:
            check_port(port)
        except OSError as exc:
            raise click.UsageError(f"cannot serve on 127.0.0.1:{port}: {exc.strerror or exc}") from None
    result = run_demo(_settings(**overrides), out, port=port)
    click.echo("\n".join(result.lines))
    click.echo("demo: OK — every output verified" if result.ok else "demo: FAILED")
    if not keep_serving:
        click.echo(
            f"The URLs above work only while the demo's server runs; it stops now. "
            f"Run `badgehub demo --serve` to keep {result.base_url} running and open them."
        )
    else:
        click.echo(f"serving {result.base_url}: the URLs above work until you press Ctrl-C")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
    result.stop()
    sys.exit(0 if result.ok else 1)


_add_domain_commands()

if __name__ == "__main__":
    main()
