"""Finds connector classes through the ``badgehub.connectors`` entry-point group.

The hub never imports a particular connector (DESIGN.md rule 4): a platform package declares
``[project.entry-points."badgehub.connectors"] <kind> = "package.module:Class"``.
See https://packaging.python.org/en/latest/specifications/entry-points/.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib.metadata import entry_points

from connectors.base import Connector
from hub.errors import ConfigurationError
from hub.i18n import lazy as _l

log = logging.getLogger(__name__)
GROUP = "badgehub.connectors"


@cache
def available() -> dict[str, Connector]:
    """Instantiate every installed connector class once: ``{kind: instance}``."""
    found: dict[str, Connector] = {}
    for ep in entry_points(group=GROUP):
        try:
            cls = ep.load()
        except Exception:
            log.exception("connector %r could not be loaded; skipped", ep.name)
            continue
        instance = cls()
        instance.kind = ep.name
        instance.register_jobs()
        found[ep.name] = instance
    return found


def get(kind: str) -> Connector:
    """The connector for ``kind``.

    Raises:
        ConfigurationError: no installed connector has that kind.
    """
    try:
        return available()[kind]
    except KeyError:
        raise ConfigurationError(_l('no connector of kind "%(kind)s" is installed', kind=kind)) from None
