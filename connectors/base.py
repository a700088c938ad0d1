"""The connector base class: a small contract every platform package implements.

A connector class is registered in the ``badgehub.connectors`` entry-point group (pyproject.toml).
``create_app`` loads the enabled ones (:mod:`hub.connections.registry`) and calls :meth:`init_app`,
so the hub core never imports a connector by name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from connectors.types import LearningEvent

if TYPE_CHECKING:
    from flask import Blueprint


class Connector:
    """Base class for platform connectors.

    Attributes:
        kind: the entry-point name, stored as ``ConnectorConfig.kind``.
    """

    kind: ClassVar[str] = ""
    #: The console endpoint that shows one ``ConnectorConfig`` row of this kind (it takes
    #: ``connector_id``, the row's public id); None: the console's own webhook-source page.
    console_endpoint: ClassVar[str | None] = None
    #: Whether a row of this kind with no issuer (a site-level connector, made by a site administrator)
    #: may award any issuer's badge classes. False for kinds whose rows get their issuer later (an LTI
    #: registration before a site administrator assigns it): until then they award nothing.
    site_level_awards: ClassVar[bool] = True

    def init_app(self, app) -> None:
        """Register blueprints / CLI commands on the Flask ``app``. Default: nothing."""

    def register_jobs(self) -> None:
        """Register this kind's background job kinds with the hub's job system (``hub.jobs.register``),
        e.g. a scheduled sync. Called once when the connector is loaded, in web and worker processes
        alike. Default: nothing."""

    def related_events(self, session, ctx, source, learning: LearningEvent) -> list[tuple[Any, LearningEvent]]:
        """Events of this kind that ``learning`` stands for too. The inbox asks every other kind while it
        processes an event of connector row ``source`` (a ``hub.connections.models.ConnectorConfig``),
        and stores each answer ``(ConnectorConfig row of this kind, LearningEvent)`` deduplicated on the
        event's ``idempotency_key`` (required), to be processed like any other event. E.g. LTI: the
        Moodle plugin's or sync's course completion is the completion of the LTI course launched from
        that Moodle course. Must not write anything itself. Default: none."""
        return []

    def validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        """Check a stored configuration; return it normalised.

        Raises:
            hub.errors.ConfigurationError: the configuration cannot work.
        """
        return config

    def normalise(self, connector_slug: str, config: dict[str, Any], body: str) -> LearningEvent:
        """Turn a stored, verified event body into a :class:`LearningEvent`.

        Raises:
            hub.errors.EventNotProcessable: the event lacks what the mapping needs (e.g. a recipient).
        """
        raise NotImplementedError

    def console_blueprint(self) -> Blueprint | None:
        """Console screens for this kind, or None (the default).

        The hub mounts the blueprint under ``/admin/<kind>`` and treats it as part of the console: the
        CSRF check on every unsafe request, the signed-in user's language, the console's security headers
        and :func:`hub.accounts.access.current_principal`. Views still need ``flask_login.login_required``
        and their own access checks; templates extend ``admin/base.html``. Return the same module-level
        blueprint every time (one blueprint may be registered on several apps).
        """
        return None

    def console_nav(self) -> list[tuple[str, str]]:
        """Console menu entries ``[(label, endpoint)]``, called per request so labels can be translated.
        Default: none."""
        return []

    def api_blueprint(self):
        """A ``flask_smorest.Blueprint`` with this kind's JSON API routes (``url_prefix`` under
        ``/api/v1/``), or None (the default).

        The hub registers it on its API, so its routes appear in ``/api/v1/openapi.json``, are
        authenticated like the rest of the API (per-user bearer tokens, or ``HUB_ADMIN_TOKEN``), and
        answer errors as RFC 9457 problem JSON. Views get the caller from
        :func:`hub.accounts.access.current_principal`.
        """
        return None
