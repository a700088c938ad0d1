"""Badge Hub: learning platforms in, signed Open Badges out.

``create_app(settings=None)``: settings -> extensions -> blueprints -> connectors (DESIGN.md).
The factory neither migrates nor waits for the database; ``badgehub init`` does that.
"""

from __future__ import annotations

import logging

from flask import Flask

from hub.settings import Settings, check_session_cookie_name, load_settings

__all__ = ["create_app"]


def configure_logging(level: str) -> None:
    """Plain structured-ish log lines on stderr; never configures twice."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the Flask app.

    Args:
        settings: defaults to :func:`hub.settings.load_settings` (``HUB_*`` environment).

    Raises:
        hub.errors.ConfigurationError: invalid settings.
    """
    from datetime import timedelta

    from hub import i18n
    from hub.connections import registry
    from hub.context import HubContext
    from hub.jobs import attach as attach_runner
    from hub.jobs.runner import Runner, load_kinds
    from hub.web import admin, api, close_db_session, commit_db_session, init_csrf, obapi, oid4vci, proxies, verifier
    from hub.web.api_frameworks import bp as frameworks_api_bp
    from hub.web.api_jobs import bp as jobs_api_bp
    from hub.web.api_paths import bp as paths_api_bp
    from hub.web.api_paths import hooks_bp as webhooks_api_bp
    from hub.web.boundary import init_app as init_boundary
    from hub.web.certificates import admin as certificates_admin_bp
    from hub.web.certificates import bp as certificates_bp
    from hub.web.errors import register_error_handlers
    from hub.web.learner import bp as learner_bp
    from hub.web.ob3 import bp as ob3_bp
    from hub.web.public import bp as public_bp
    from hub.web.security import init_app as init_security

    settings = settings or load_settings()
    configure_logging(settings.log_level)
    app = Flask(__name__, template_folder="web/templates", static_folder="web/static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        # Flask's defaults are 31 days and "session": set, never setdefault (those keys always exist)
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours),
        SESSION_COOKIE_NAME=check_session_cookie_name(settings.session_cookie_name),
    )
    app.json.ensure_ascii = False
    # X-Forwarded-For/Proto/Host only from the proxies HUB_TRUSTED_PROXIES names (none by default).
    app.wsgi_app = proxies.wrap(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]

    ctx = HubContext.from_settings(settings)
    load_kinds()
    jobs = Runner(ctx)
    attach_runner(ctx, jobs)  # what hub.jobs.wake(ctx) reaches, e.g. after an operation's commit
    app.extensions["hub"] = ctx
    app.extensions["hub.jobs"] = jobs

    i18n.init_app(app, settings.instance_path)
    register_error_handlers(app)
    init_csrf(app)
    app.after_request(commit_db_session)
    app.teardown_appcontext(close_db_session)
    if settings.job_mode == "thread":
        # The runner's threads start with the first request of each process (a gunicorn worker forked
        # from a master that imported the app has none), and at once in serving processes (hub.wsgi).
        app.before_request(jobs.start)
    app.register_blueprint(public_bp)
    hub_api = api.init_app(app)
    api.mount(app, hub_api, frameworks_api_bp)
    api.mount(app, hub_api, jobs_api_bp)
    api.mount(app, hub_api, paths_api_bp)
    api.mount(app, hub_api, webhooks_api_bp)
    api.mount(app, hub_api, certificates_admin_bp)
    verifier.init_app(app, hub_api)
    admin.init_app(app)
    init_security(app)
    init_boundary(app)  # after the API's authentication and the console's CSRF check
    app.register_blueprint(ob3_bp)
    app.register_blueprint(certificates_bp)
    app.register_blueprint(learner_bp)
    oid4vci.init_app(app)  # after the console's limiter
    obapi.init_app(app)  # the Open Badges API and its OAuth 2.0 server
    for connector in registry.available().values():
        connector.init_app(app)
    check_settings_applied(app, settings)
    return app


def check_settings_applied(app: Flask, settings: Settings) -> None:
    """Refuse to start when a setting did not take effect (an extension or connector changed the
    Flask configuration it maps to): a setting is applied or the app does not start, never ignored.

    Raises:
        hub.errors.ConfigurationError: naming the setting, what it says and what is in effect.
    """
    from datetime import timedelta

    from hub.errors import ConfigurationError

    expected = {
        "PERMANENT_SESSION_LIFETIME": ("HUB_SESSION_HOURS", timedelta(hours=settings.session_hours)),
        "SESSION_COOKIE_NAME": ("HUB_SESSION_COOKIE_NAME", settings.session_cookie_name),
        "MAX_CONTENT_LENGTH": ("HUB_MAX_BODY_BYTES", settings.max_body_bytes),
        "SECRET_KEY": ("HUB_SECRET_KEY", settings.secret_key),
    }
    for key, (name, value) in expected.items():
        if app.config.get(key) != value:
            shown = "(secret)" if key == "SECRET_KEY" else f"{value!r}, but {app.config.get(key)!r} is in effect"
            raise ConfigurationError(f"{name} does not take effect ({key}): the setting says {shown}")
