"""Signed webhooks (Standard Webhooks) from any system, mapped to LearningEvents by configuration."""

from __future__ import annotations

import json
from typing import Any

from connectors.base import Connector
from connectors.types import LearningEvent
from hub.errors import EventNotProcessable
from hub.i18n import lazy as _l

from .mapping import map_payload, validate_mapping


class WebhookConnector(Connector):
    """Connector kind ``webhooks``. Config: ``{"mapping": {field: JMESPath}}`` (see :mod:`.mapping`)."""

    kind = "webhooks"

    def init_app(self, app) -> None:
        from .views import bp

        app.register_blueprint(bp)

    def validate_config(self, config: dict[str, Any]) -> dict[str, Any]:
        return {**config, "mapping": validate_mapping(config.get("mapping", {}))}

    def normalise(self, connector_slug: str, config: dict[str, Any], body: str) -> LearningEvent:
        try:
            payload = json.loads(body)
        except ValueError:
            raise EventNotProcessable(_l("the stored body is not JSON")) from None
        return map_payload(connector_slug, config.get("mapping", {}), payload)
