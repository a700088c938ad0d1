"""The admin console (``/admin``): server-rendered pages over :mod:`hub.operations.actions`.

``init_app(app)`` wires everything the console needs: Flask-Login sessions, Flask-WTF CSRF checks on
every console form, Flask-Limiter login limits, the blueprint, and the ``badgehub users create-admin``
command; its security headers are set by :mod:`hub.web.security`. See README.md, "Admin console and JSON
API".
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, request, session, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user

from hub import ratelimit
from hub.accounts.access import Principal
from hub.errors import BadRequest
from hub.i18n import lazy as _l
from hub.web import csrf

bp = Blueprint(
    "admin",
    __name__,
    url_prefix="/admin",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
login_manager = LoginManager()
#: Storage: none of its own, so ``init_app`` takes the app's (:func:`hub.ratelimit.configure`: Redis with
#: ``HUB_REDIS_URL``, else the database), shared by every process.
limiter = Limiter(get_remote_address)

NUL_REFUSED = _l("The form contains a NUL character (U+0000), which no field accepts. Remove it and try again.")


def principal() -> Principal:
    """The signed-in user's principal (call only in views behind ``login_required``)."""
    if "hub_principal" not in g:
        g.hub_principal = Principal.for_user(current_user.user)
    return g.hub_principal


def is_console_request() -> bool:
    """Whether this request is for a console page: the ``admin`` blueprint or a connector's console
    blueprint (:meth:`connectors.base.Connector.console_blueprint`)."""
    return request.blueprint == "admin" or request.blueprint in current_app.extensions["hub.console_blueprints"]


def init_app(app: Flask) -> None:
    """Register the console on ``app`` (call once, from ``create_app``)."""
    from hub.connections import registry
    from hub.web.admin import auth, awards, bulk, cli, connectors, jobs, paths, people, views, webhooks  # noqa: F401

    settings = app.extensions["hub"].settings
    # Session lifetime and cookie name: create_app sets them from settings (HUB_SESSION_HOURS,
    # HUB_SESSION_COOKIE_NAME) and checks they took effect.
    app.config.setdefault("REMEMBER_COOKIE_SECURE", settings.base_url.startswith("https://"))
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    # Counts shared by every process: Redis when configured, the database otherwise.
    ratelimit.configure(app, app.extensions["hub"])
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "admin.login"
    login_manager.session_protection = "basic"
    login_manager.user_loader(auth.load_user)
    app.register_blueprint(bp)
    app.cli.add_command(cli.users)
    app.cli.add_command(cli.issuers)
    app.cli.add_command(cli.badges)
    mounted = app.extensions["hub.console_blueprints"] = set()
    for kind, connector in registry.available().items():
        child = connector.console_blueprint()
        if child is not None:
            app.register_blueprint(child, url_prefix=f"/admin/{kind}")
            mounted.add(child.name)
    app.before_request(_console_request)


@limiter.request_filter
def _not_limited() -> bool:
    # Only console sign-in views and the public verifier (``hub.limited_endpoints``, :mod:`hub.web.verifier`)
    # carry limits: other requests (webhook intake above all) skip the limiter's per-request bookkeeping.
    return not is_console_request() and request.endpoint not in current_app.extensions.get("hub.limited_endpoints", ())


def _console_request():
    """Before every console request (the ``admin`` blueprint and connectors' console blueprints):
    the CSRF check, refusing NUL bytes, the signed-in user's language and their principal."""
    from hub.i18n import set_locale

    if not is_console_request():
        return
    request.max_content_length = current_app.extensions["hub"].settings.max_upload_bytes  # room for an image
    if current_user.is_authenticated:
        principal()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    # PostgreSQL text cannot hold NUL; no console input needs it.
    if any("\x00" in v for v in (*request.args.values(), *request.form.values())):
        raise BadRequest(
            _l("The form contains a NUL character (U+0000), which no field accepts. Remove it and try again.")
        )
    if not request.args.get("lang"):
        chosen = session.get("lang") or (current_user.user.locale if current_user.is_authenticated else None)
        if chosen:
            set_locale(chosen)


@bp.app_context_processor
def _console_nav() -> dict:
    """Menu entries contributed by connectors (:meth:`connectors.base.Connector.console_nav`)."""
    if not is_console_request():
        return {}
    from hub.connections import registry

    entries = [(label, url_for(endpoint)) for c in registry.available().values() for label, endpoint in c.console_nav()]
    return {"console_extensions": entries}


@bp.app_template_global()
def connector_page_url(row) -> str:
    """The console page of one ``ConnectorConfig`` row: its kind's own page when the connector has one
    (:attr:`connectors.base.Connector.console_endpoint`), else the webhook-source page."""
    from hub.connections import registry

    connector = registry.available().get(row.kind)
    endpoint = getattr(connector, "console_endpoint", None) or "admin.connector"
    return url_for(endpoint, connector_id=row.public_id)


@bp.app_template_global()
def award_state(assertion) -> str:
    """An award's live state, ``valid``, ``expired`` or ``revoked``, told as on its public page and
    ``/verify`` (:func:`hub.certificates.sharing.live_status`, the one function for it)."""
    from hub.certificates.sharing import live_status

    return live_status(assertion)


@bp.app_template_global()
def format_count(value) -> str:
    from flask_babel import format_decimal

    return format_decimal(value or 0)


@bp.app_template_filter("as_datetime")
def as_datetime(value):
    """An ISO 8601 string stored in JSON (e.g. an event's history ``at``) as a datetime for ``when()``;
    None when it is not one."""
    from hub.timefmt import parse_timestamp

    if not value:
        return None
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError):
        return None


@bp.app_template_global()
def stored_text(value):
    """A message stored with :func:`hub.i18n.dump_text` (bulk-job errors), in the reader's language."""
    from hub.i18n import load_text

    return load_text(value)


@bp.app_template_global()
def history_text(entry: dict):
    """The reason of an event's history entry, in the reader's language (:func:`hub.inbox.models.history_text`)."""
    from hub.inbox.models import history_text as text

    return text(entry)
