"""Award rules: create them and match a LearningEvent to the badge classes it earns."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import jmespath
from jmespath.exceptions import JMESPathError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from connectors.types import LearningEvent
from hub.badges.models import BadgeClass
from hub.connections.models import ConnectorConfig
from hub.errors import ConfigurationError, ValidationError
from hub.i18n import lazy as _l
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
        raise ValidationError(
            _l('invalid JMESPath expression "%(expression)s": %(error)s', expression=expr, error=str(exc)),
            field="condition",
        ) from None


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

    A connector that belongs to an issuer may only award that issuer's badge classes.

    Raises:
        ValidationError: empty event type, an invalid condition, or a badge class of another issuer.
    """
    if connector.issuer_id is not None and badge_class.issuer_id != connector.issuer_id:
        raise ValidationError(_l("the badge belongs to another issuer than the connector"), field="badge_class")
    if not (event_type or "").strip():
        raise ValidationError(_l("the event type is required"), field="event_type")
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
    return match(session, connector, event).badge_classes


@dataclass(frozen=True)
class Match:
    """What the rules say of an event: ``badge_classes`` earned, and ``unmet``, the conditions of rules
    that matched the event's type and key but whose condition is false for it (a 5th place under a
    rule for ``place <= `3```: the event qualifies for nothing, which is not an error)."""

    badge_classes: list[BadgeClass]
    unmet: list[str]


def match(session: Session, connector: ConnectorConfig, event: LearningEvent) -> Match:
    """Evaluate ``connector``'s enabled rules for ``event`` (see :class:`Match`).

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
    unmet: list[str] = []
    for rule in rules:
        if rule.condition:
            try:
                ok = compile_expression(rule.condition).search(event.data)
            except JMESPathError as exc:
                raise ConfigurationError(
                    _l("rule %(rule)s: the condition failed: %(error)s", rule=rule.public_id, error=str(exc))
                ) from None
            if not ok:
                unmet.append(rule.condition)
                continue
        earned.setdefault(rule.badge_class_id, rule.badge_class)
    return Match(list(earned.values()), unmet)


def list_rules(where=None, *, connector_id: int | None = None):
    """Rules in evaluation order, joined to their connector (so ``where`` may use ``ConnectorConfig``)."""
    query = select(AwardRule).join(ConnectorConfig, AwardRule.connector_id == ConnectorConfig.id).order_by(AwardRule.id)
    if connector_id is not None:
        query = query.where(AwardRule.connector_id == connector_id)
    return query.where(where) if where is not None else query


def set_rule_enabled(session: Session, rule: AwardRule, enabled: bool) -> AwardRule:
    """Turn a rule on or off (a connector that manages its own rules, e.g. an LTI course's award rule,
    disables them instead of deleting them, so the history of what awarded what stays readable)."""
    rule.enabled = bool(enabled)
    session.flush()
    return rule


def delete_rule(session: Session, rule: AwardRule) -> None:
    session.delete(rule)
    session.flush()
