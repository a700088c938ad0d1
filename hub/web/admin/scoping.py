"""Issuer scoping shared by the console and the API: which issuer owns a row, and loading a row only
when the principal may act on it (see :mod:`hub.accounts.access`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.accounts.access import Principal, not_found
from hub.accounts.models import BulkJob
from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.connections.models import ConnectorConfig
from hub.inbox.models import InboundEvent
from hub.jobs.models import Job
from hub.outgoing.models import WebhookDelivery, WebhookSubscription
from hub.paths.models import Path
from hub.rules.models import AwardRule

# The issuer-id column each listing is scoped on (listings join BadgeClass / ConnectorConfig first).
SCOPE_COLUMN = {
    Issuer: Issuer.id,
    BadgeClass: BadgeClass.issuer_id,
    Assertion: BadgeClass.issuer_id,
    ConnectorConfig: ConnectorConfig.issuer_id,
    AwardRule: ConnectorConfig.issuer_id,
    InboundEvent: ConnectorConfig.issuer_id,
    BulkJob: BulkJob.issuer_id,
    Job: Job.issuer_id,
    Path: Path.issuer_id,
    WebhookSubscription: WebhookSubscription.issuer_id,
    WebhookDelivery: WebhookDelivery.issuer_id,
}


def issuer_of(row) -> int | None:
    """The issuer row id owning ``row`` (None for site-level connectors and their rules and events)."""
    if isinstance(row, Issuer):
        return row.id
    if isinstance(row, BadgeClass | BulkJob | ConnectorConfig | Job | Path | WebhookSubscription | WebhookDelivery):
        return row.issuer_id
    if isinstance(row, Assertion):
        return row.badge_class.issuer_id
    if isinstance(row, AwardRule | InboundEvent):
        return row.connector.issuer_id
    raise TypeError(f"no issuer scoping for {type(row).__name__}")


def load(session: Session, principal: Principal, model, public_id: str, ability: str, *, write: bool = False):
    """The ``model`` row with ``public_id`` if ``principal`` has ``ability`` at its issuer.

    Raises:
        NotFound: no such row, or it belongs to an issuer the principal has no role at.
        Forbidden: the principal has a role there, but not ``ability``.
    """
    what = model.__name__
    if not is_public_id(public_id):  # not even shaped like an id: no query (and no NUL sent to the database)
        raise not_found(what)
    row = session.scalar(select(model).where(model.public_id == str(public_id)))
    if row is None:
        raise not_found(what)
    principal.require(issuer_of(row), ability, write=write, what=what)
    return row


def is_public_id(value) -> bool:
    """Whether ``value`` has the shape of a public id (a UUID string)."""
    try:
        return isinstance(value, str) and len(value) == 36 and str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def scope(principal: Principal, model, ability: str):
    """The WHERE clause limiting a listing of ``model`` to the principal's issuers."""
    return principal.scope_filter(SCOPE_COLUMN[model], ability)
