"""The connector base class: a small contract every platform package implements.

A connector class is registered in the ``badgehub.connectors`` entry-point group (pyproject.toml).
``create_app`` loads the enabled ones (:mod:`hub.connections.registry`) and calls :meth:`init_app`,
so the hub core never imports a connector by name.
"""

from __future__ import annotations

from typing import Any, ClassVar

from connectors.types import LearningEvent


class Connector:
    """Base class for platform connectors.

    Attributes:
        kind: the entry-point name, stored as ``ConnectorConfig.kind``.
    """

    kind: ClassVar[str] = ""

    def init_app(self, app) -> None:
        """Register blueprints / CLI commands on the Flask ``app``. Default: nothing."""

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
