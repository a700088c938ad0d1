"""Payload mappings: configuration (not code) that turns any JSON payload into a LearningEvent.

A mapping is a dict of JMESPath expressions (https://jmespath.org/specification.html) evaluated on the
parsed payload. ``recipient_email`` and ``event_type`` are required; a constant is a JMESPath literal,
e.g. ``"`course_completed`"``. See README.md, "Webhooks".
"""

from __future__ import annotations

import json
from typing import Any

from connectors.types import LearningEvent, PlatformUser
from hub.errors import ConfigurationError, EventNotProcessable, ValidationError
from hub.i18n import joined
from hub.i18n import lazy as _l
from hub.rules.services import compile_expression
from hub.schemas import invalid_text_at, not_unicode
from hub.timefmt import parse_timestamp

REQUIRED = ("recipient_email", "event_type")
OPTIONAL = (
    "recipient_name",
    "key",
    "occurred_at",
    "idempotency_key",
    "evidence_url",
    "evidence_narrative",
    "outcomes",
    "platform_user_id",
    "platform",
    "sourced_id",
    "course_id",
)


def validate_mapping(mapping: dict[str, Any]) -> dict[str, str]:
    """Check a mapping: required fields present, every expression a valid JMESPath, no unknown fields.

    Raises:
        ConfigurationError: naming the field at fault.
    """
    if not isinstance(mapping, dict):
        raise ConfigurationError(_l("the mapping must be an object of field -> JMESPath expression"))
    unknown = set(mapping) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise ConfigurationError(_l("unknown mapping fields: %(fields)s", fields=joined(sorted(unknown))))
    for name in REQUIRED:
        if not mapping.get(name):
            raise ConfigurationError(_l('the mapping needs "%(field)s"', field=name))
    for name, expr in mapping.items():
        if not isinstance(expr, str):
            raise ConfigurationError(_l('mapping field "%(field)s" must be a JMESPath expression string', field=name))
        try:
            compile_expression(expr)
        except ValidationError as exc:
            raise ConfigurationError(
                _l('mapping field "%(field)s": %(detail)s', field=name, detail=exc.detail)
            ) from None
    return dict(mapping)


def _get(mapping: dict[str, str], name: str, payload: Any) -> Any:
    expr = mapping.get(name)
    return compile_expression(expr).search(payload) if expr else None


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)


def _one(value: Any, name: str, mapping: dict[str, str]) -> str | None:
    """A field that must be one value (text, a number): a list or an object found there is refused
    rather than stored as its JSON text (an ``event_type`` of ``["a"]`` would match no rule)."""
    if isinstance(value, list):
        raise EventNotProcessable(
            _l('the value at "%(path)s" must be text, not a JSON list', path=mapping[name]), field=name
        )
    if isinstance(value, dict):
        raise EventNotProcessable(
            _l('the value at "%(path)s" must be text, not a JSON object', path=mapping[name]), field=name
        )
    return _text(value)


def map_payload(connector_slug: str, mapping: dict[str, str], payload: Any) -> LearningEvent:
    """The webhook's one way from a parsed body to a LearningEvent, at intake and when a stored event is
    processed or replayed: the body's text must be valid Unicode (:func:`hub.schemas.invalid_text_at`),
    then :func:`apply_mapping`, then :func:`hub.inbox.services.check_learning_event`, so what can never
    be processed is refused at intake (stored as failed, replayable) rather than accepted with 202.

    Raises:
        EventNotProcessable: naming the field (a payload path for text that is not Unicode).
    """
    from hub.inbox.services import check_learning_event  # the inbox imports the connectors' registry

    where = invalid_text_at(payload)
    if where is not None:
        raise not_unicode(where or "body", EventNotProcessable)
    return check_learning_event(apply_mapping(connector_slug, mapping, payload))


def apply_mapping(connector_slug: str, mapping: dict[str, str], payload: Any) -> LearningEvent:
    """Evaluate ``mapping`` on ``payload`` (parsed JSON).

    Raises:
        EventNotProcessable: no recipient e-mail or event type at the mapped place, or a time that is
            not ISO 8601 / Unix seconds.
    """
    email = _text(_get(mapping, "recipient_email", payload))
    if not email:
        raise EventNotProcessable(
            _l('the payload has no recipient e-mail at "%(path)s"', path=mapping["recipient_email"]),
            field="recipient_email",
        )
    event_type = _one(_get(mapping, "event_type", payload), "event_type", mapping)
    if not event_type:
        raise EventNotProcessable(
            _l('the payload has no event type at "%(path)s"', path=mapping["event_type"]), field="event_type"
        )
    occurred = _get(mapping, "occurred_at", payload)
    try:
        occurred_at = parse_timestamp(occurred) if occurred not in (None, "") else None
    except (ValueError, OverflowError, OSError):
        raise EventNotProcessable(
            _l("occurred_at is not a timestamp: %(value)s", value=json.dumps(occurred, ensure_ascii=False)),
            field="occurred_at",
        ) from None
    evidence_url, narrative = (
        _text(_get(mapping, "evidence_url", payload)),
        _text(_get(mapping, "evidence_narrative", payload)),
    )
    evidence = (
        ({k: v for k, v in (("id", evidence_url), ("narrative", narrative)) if v},)
        if (evidence_url or narrative)
        else ()
    )
    outcomes = _get(mapping, "outcomes", payload) or ()
    return LearningEvent(
        connector=connector_slug,
        event_type=event_type,
        key=_text(_get(mapping, "key", payload)),
        recipient=PlatformUser(
            email=email,
            name=_text(_get(mapping, "recipient_name", payload)),
            platform_user_id=_text(_get(mapping, "platform_user_id", payload)),
            platform=_text(_get(mapping, "platform", payload)),
            sourced_id=_text(_get(mapping, "sourced_id", payload)),
        ),
        occurred_at=occurred_at,
        idempotency_key=_text(_get(mapping, "idempotency_key", payload)),
        evidence=evidence,
        outcomes=tuple(
            text for o in (outcomes if isinstance(outcomes, list) else [outcomes]) if (text := _text(o)) is not None
        ),
        data=payload if isinstance(payload, dict) else {"payload": payload},
        course_id=_text(_get(mapping, "course_id", payload)),
    )
