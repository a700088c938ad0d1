"""LTI 1.3 / LTI Advantage tool (https://www.imsglobal.org/spec/lti/v1p3/) on pylti1p3 2.0.0.

Schools register the hub in their LMS (dynamic registration or the admin API); teachers link badge
classes to their course, set its award rule, see the roster (NRPS), award and revoke; learners see
their badges. Registered as the entry point ``lti = "connectors.lti:LtiConnector"``.

Endpoints (blueprint ``lti``): ``/lti/login`` (GET/POST), ``/lti/launch``, ``/lti/jwks``,
``/lti/register``, the pages ``/lti/course`` and ``/lti/badges``, ``/lti/deeplink``; console screens
under ``/admin/lti`` (:mod:`connectors.lti.console`); JSON API under ``/api/v1/lti``
(:mod:`connectors.lti.api`). CLI: ``badgehub lti ...``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from connectors.base import Connector
from connectors.types import LearningEvent
from hub.errors import EventNotProcessable
from hub.i18n import lazy as _l

from . import models  # noqa: F401  (the tool's tables join the hub's metadata for migrations)


class LtiConnector(Connector):
    """Connector kind ``lti``: one ``ConnectorConfig`` row per registration owns the course completion
    rules (``course_completed``, key = LTI context id); config ``{"registration": <public id>}``."""

    kind: ClassVar[str] = "lti"
    console_endpoint: ClassVar[str | None] = "lti_console.connector"
    site_level_awards: ClassVar[bool] = False  # a registration awards only once it belongs to an issuer

    def init_app(self, app) -> None:
        """Register the ``lti`` blueprint (with the rate limit of dynamic registration) and the
        ``badgehub lti`` commands."""
        from .cli import lti_cli
        from .views import bp, limiter

        app.register_blueprint(bp)
        limiter.init_app(app)  # storage: the app's RATELIMIT_STORAGE_URI (Redis, or the database)
        app.cli.add_command(lti_cli)

    def register_jobs(self) -> None:
        """The ``lti.grade_sync`` job kind and its schedule (:mod:`connectors.lti.jobs`)."""
        from .jobs import register

        register()

    def console_blueprint(self):
        """The registrations screens (:mod:`connectors.lti.console`), site administrators only."""
        from .console import console_bp

        return console_bp

    def console_nav(self) -> list[tuple[str, str]]:
        """ "LTI platforms" in the console menu, for site administrators."""
        from .console import nav

        return nav()

    def api_blueprint(self):
        """``/api/v1/lti``: registrations, deployments, the tool key, completions (:mod:`connectors.lti.api`)."""
        from .api import api_bp

        return api_bp

    def related_events(self, session, ctx, source, learning: LearningEvent):
        """A course completion from the Moodle plugin or sync is also the completion of the LTI course
        launched from that Moodle course (:func:`connectors.lti.services.related_completions`)."""
        from .services import related_completions

        return related_completions(session, ctx, source, learning)

    def validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return dict(config)

    def normalise(self, connector_slug: str, config: dict[str, Any], body: str) -> LearningEvent:
        """Completions are stored as normalised LearningEvents; a raw body is not expected here.

        Raises:
            EventNotProcessable: always, naming the body's shape.
        """
        try:
            kind = type(json.loads(body)).__name__
        except ValueError:
            kind = "text"
        raise EventNotProcessable(
            _l("the lti connector stores normalised events only, got a raw %(kind)s body", kind=kind)
        )
