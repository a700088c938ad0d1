"""Award rules: create them and match a LearningEvent to the badge classes it earns."""

from __future__ import annotations

from functools import lru_cache

import jmespath
from jmespath.exceptions import JMESPathError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from connectors.types import LearningEvent
from hub.badges.models import BadgeClass
from hub.connections.models import ConnectorConfig
from hub.errors import ConfigurationError, ValidationError
from hub.rules.models import AwardRule


@lru_cache(maxsize=512)
def compile_expression(expr: str):
    """Compile a JMESPath expression once (https://jmespath.org/specification.html).

    Raises:
        ValidationError: the expression does not parse.
    """
    try:
        return jmespath.compile(expr)
    except JMESPathError as exc:
        raise ValidationError(f"invalid JMESPath expression {expr!r}: {exc}", field="condition") from None


def create_rule(
    session: Session,
    connector: ConnectorConfig,
    badge_class: BadgeClass,
    *,
    event_type: str,
    key: str | None = None,
    condition: str | None = None,
) -> AwardRule:
    """Create a rule: events of ``connector`` with ``event_type`` (and ``key``, if given) whose payload
    satisfies ``condition`` (JMESPath, truthy result) earn ``badge_class``.

    Raises:
        ValidationError: empty event type or an invalid condition.
    """
    if not (event_type or "").strip():
        raise ValidationError("event_type is required", field="event_type")
    if condition:
        compile_expression(condition)
    rule = AwardRule(
        connector=connector,
        badge_class=badge_class,
        event_type=event_type.strip(),
        key=(key or "").strip() or None,
        condition=(condition or "").strip() or None,
    )
    session.add(rule)
    session.flush()
    return rule


def matching_badge_classes(session: Session, connector: ConnectorConfig, event: LearningEvent) -> list[BadgeClass]:
    """The badge classes ``event`` earns under ``connector``'s enabled rules, in rule order, no repeats.

    Raises:
        ConfigurationError: a stored condition fails to evaluate (a configuration error to fix and replay).
    """
    # Rules are read once per (connector, event type, key) per session: a worker's batch of events
    # shares one session, and the batch is one transaction, so the cached rules are as of its start.
    cache = session.info.setdefault("hub.rules", {})
    cache_key = (connector.id, event.event_type, event.key)
    rules = cache.get(cache_key)
    if rules is None:
        rules = cache[cache_key] = session.scalars(
            select(AwardRule)
            .where(
                AwardRule.connector_id == connector.id,
                AwardRule.enabled.is_(True),
                AwardRule.event_type == event.event_type,
                or_(AwardRule.key.is_(None), AwardRule.key == event.key),
            )
            .order_by(AwardRule.id)
            # The award needs each badge class and its issuer: one joined query instead of two lazy loads.
            .options(joinedload(AwardRule.badge_class).joinedload(BadgeClass.issuer))
        ).all()
    earned: dict[int, BadgeClass] = {}
    for rule in rules:
        if rule.condition:
            try:
                ok = compile_expression(rule.condition).search(event.data)
            except JMESPathError as exc:
                raise ConfigurationError(f"rule {rule.public_id}: condition failed: {exc}") from None
            if not ok:
                continue
        earned.setdefault(rule.badge_class_id, rule.badge_class)
    return list(earned.values())


def set_rule_enabled(session: Session, rule: AwardRule, enabled: bool) -> AwardRule:
    """Turn a rule on or off (a connector that manages its own rules, e.g. an LTI course's award rule,
    disables them instead of deleting them, so the history of what awarded what stays readable)."""
    rule.enabled = bool(enabled)
    session.flush()
    return rule
