"""The connector contract's data types: what every platform event is normalised into.

Imports nothing from the hub's web layer (DESIGN.md, "Which way imports go", rule 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class PlatformUser:
    """A learner as a platform knows them.

    Attributes:
        email: e-mail address as the platform sent it (the hub trims and lower-cases it).
        name: display name, any script (``Zażółć gęślą jaźń``).
        platform_user_id: the platform's own id (Moodle user id, LTI ``sub``), if any.
        platform: the platform's identity (Moodle site URL, LTI issuer), if any.
        sourced_id: LIS person sourcedId / SIS id, if any.
    """

    email: str | None
    name: str | None = None
    platform_user_id: str | None = None
    platform: str | None = None
    sourced_id: str | None = None


@dataclass(frozen=True)
class LearningEvent:
    """A normalised learning event: someone did something that may earn badges.

    Attributes:
        connector: slug of the configured connector that received it.
        event_type: what happened, e.g. ``course_completed``, ``competition_result``.
        key: what it happened in (course idnumber, activity id, competition code); may be None.
        recipient: who did it.
        occurred_at: when (timezone-aware UTC), or None for "when received".
        idempotency_key: identifies the source fact across delivery paths (e.g. Moodle push and sync
            use ``moodle:<site>:course:<id>:user:<id>``), so the same fact never awards twice.
        evidence: list of OB evidence dicts (``{"id": url, "narrative": ...}``).
        outcomes: platform outcome keys achieved (e.g. Moodle competency idnumbers).
        data: the (parsed) source payload, against which rule conditions are evaluated.
        course_id: the platform's own id of the course it happened in (Moodle course id, LTI context
            id), if known. With ``recipient.platform`` (the site address) it names the course across
            connectors: a Moodle completion of course 2 is also the completion of the LTI context 2
            launched from that site (:meth:`connectors.base.Connector.related_events`).
    """

    connector: str
    event_type: str
    key: str | None
    recipient: PlatformUser
    occurred_at: datetime | None = None
    idempotency_key: str | None = None
    evidence: tuple[dict[str, Any], ...] = ()
    outcomes: tuple[str, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    course_id: str | None = None
