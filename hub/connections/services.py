"""Configured connectors: create, look up, and manage their secrets (stored encrypted)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from hub.connections import registry
from hub.connections.models import ConnectorConfig
from hub.context import HubContext
from hub.errors import NotFound, ValidationError
from hub.i18n import N_, number
from hub.i18n import lazy as _l

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_SECRETS = 3  # current + two older ones accepted during rotation


class SlugTaken(ValidationError):
    """Another connector has this address segment (``field="slug"``): a valid request that the hub's state
    refuses, so 409 (RFC 9110 §15.5.10); a :class:`ValidationError` still, so forms show it at the field."""

    status = 409
    slug = "conflict"
    title = N_("Conflict")


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes
    (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


#: Longest connector name (the column's size; the API and the issuer form cap names the same).
MAX_NAME = 255


def _name(name: str | None, slug: str) -> str:
    """The connector's display name: trimmed, the slug when empty.

    Raises:
        ValidationError: longer than :data:`MAX_NAME` characters (field ``name``).
    """
    text = (name or "").strip()
    if len(text) > MAX_NAME:
        raise ValidationError(
            _l("%(field)s is longer than %(limit)s characters", field=_l("name"), limit=number(MAX_NAME)), field="name"
        )
    return text or slug


def create_connector(
    session: Session,
    ctx: HubContext,
    *,
    slug: str,
    kind: str,
    name: str,
    config: dict | None = None,
    secret: str | None = None,
    issuer_id: int | None = None,
) -> ConnectorConfig:
    """Create a connector. Its config is checked by the connector class of ``kind``.

    ``issuer_id`` names the issuer whose people manage it (None: site-level).

    Raises:
        ValidationError: bad slug (:class:`SlugTaken`, 409: taken), a name over :data:`MAX_NAME`
            characters; ConfigurationError: unknown kind or invalid config.
    """
    if not SLUG.match(slug or ""):
        raise ValidationError(
            _l("the address segment (slug) must be 1-64 lower-case letters, digits or hyphens"), field="slug"
        )
    if session.scalar(select(ConnectorConfig.id).where(ConnectorConfig.slug == slug)):
        raise SlugTaken(_l('a connector with the address segment "%(slug)s" exists', slug=slug), field="slug")
    connector = registry.get(kind)
    row = ConnectorConfig(
        slug=slug,
        kind=kind,
        name=_name(name, slug),
        config=connector.validate_config(config or {}),
        issuer_id=issuer_id,
    )
    if secret:
        row.secrets_encrypted = ctx.box.encrypt(json.dumps([secret]).encode())
    session.add(row)
    session.flush()
    return row


def get_connector(session: Session, slug: str) -> ConnectorConfig:
    """The enabled connector with ``slug``.

    Raises:
        NotFound: none, or disabled.
    """
    row = session.scalar(select(ConnectorConfig).where(ConnectorConfig.slug == slug))
    if row is None or not row.enabled:
        raise NotFound(_l('no connector "%(slug)s"', slug=slug))
    return row


def connector_secrets(ctx: HubContext, row: ConnectorConfig) -> list[str]:
    """The connector's secrets, newest first (several while a rotation is in progress)."""
    if not row.secrets_encrypted:
        return []
    return json.loads(ctx.box.decrypt(row.secrets_encrypted))


def rotate_secret(session: Session, ctx: HubContext, row: ConnectorConfig, new_secret: str | None = None) -> str:
    """Add a new secret in front; the previous ones stay valid (at most :data:`MAX_SECRETS` kept)
    until :func:`drop_old_secrets`. Returns the new secret (shown once, never logged)."""
    secret = new_secret or new_webhook_secret()
    kept = [secret, *connector_secrets(ctx, row)][:MAX_SECRETS]
    row.secrets_encrypted = ctx.box.encrypt(json.dumps(kept).encode())
    session.flush()
    return secret


def drop_old_secrets(session: Session, ctx: HubContext, row: ConnectorConfig) -> None:
    """End a rotation: keep only the newest secret."""
    current = connector_secrets(ctx, row)[:1]
    row.secrets_encrypted = ctx.box.encrypt(json.dumps(current).encode()) if current else None
    session.flush()


#: Seconds a process keeps a connector's intake view before reading the row again. Changes made through
#: the ORM in the same process apply at once (see ``_forget_intake``); other processes (gunicorn workers)
#: see a disabled connector or an ended secret rotation within this time.
INTAKE_CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class IntakeConnector:
    """What intake needs of an enabled connector: row ``id``, ``slug``, ``kind``, ``config`` (JSON
    object) and the decrypted ``secrets``, newest first. Read by :func:`intake_connector`."""

    id: int
    slug: str
    kind: str
    config: dict
    secrets: tuple[str, ...]


# Per connection pool (so per Database, shared by its engine's option variants): {slug: (expiry, view)}.
_intake: WeakKeyDictionary = WeakKeyDictionary()


def intake_connector(ctx: HubContext, slug: str, kind: str) -> IntakeConnector:
    """The enabled connector ``slug`` of ``kind`` for verifying and storing an incoming event, from a
    per-process cache (:data:`INTAKE_CACHE_SECONDS`): intake then costs no database read and no
    decryption per request. Unknown slugs are not cached.

    Raises:
        NotFound: no enabled connector ``slug`` of ``kind``.
    """
    cache = _intake.setdefault(ctx.db.engine.pool, {})
    hit = cache.get(slug)
    if hit is None or hit[0] < time.monotonic():
        with ctx.db.read_scope() as session:
            row = get_connector(session, slug)
            secrets_ = tuple(connector_secrets(ctx, row))
            view = IntakeConnector(row.id, row.slug, row.kind, dict(row.config or {}), secrets_)
        hit = cache[slug] = (time.monotonic() + INTAKE_CACHE_SECONDS, view)
    if hit[1].kind != kind:
        raise _not_of_kind(kind, slug)
    return hit[1]


@event.listens_for(ConnectorConfig, "after_update")
@event.listens_for(ConnectorConfig, "after_delete")
def _forget_intake(_mapper, connection, target: ConnectorConfig) -> None:
    _intake.get(connection.engine.pool, {}).pop(target.slug, None)


def require(session: Session, slug: str, kind: str) -> ConnectorConfig:
    """Like :func:`get_connector`, and also of ``kind``. Raises NotFound otherwise."""
    row = get_connector(session, slug)
    if row.kind != kind:
        raise _not_of_kind(kind, slug)
    return row


def _not_of_kind(kind: str, slug: str) -> NotFound:
    return NotFound(_l('no %(kind)s connector "%(slug)s"', kind=kind, slug=slug))


def update_connector(
    session: Session,
    row: ConnectorConfig,
    *,
    name: str | None = None,
    config: dict | None = None,
    enabled: bool | None = None,
) -> ConnectorConfig:
    """Change a connector's name, configuration (checked by its kind) or enabled flag.

    Raises:
        ValidationError: a name over :data:`MAX_NAME` characters; ConfigurationError: the configuration
            is invalid for the kind.
    """
    if name is not None:
        row.name = _name(name, row.slug)
    if config is not None:
        row.config = registry.get(row.kind).validate_config(config)
    if enabled is not None:
        row.enabled = enabled
    session.flush()
    return row


def connector_has_events(session: Session, row: ConnectorConfig) -> bool:
    """Whether any inbox event came through ``row`` (then it is kept: events refer to it)."""
    from hub.inbox.models import InboundEvent

    return session.scalar(select(InboundEvent.id).where(InboundEvent.connector_id == row.id).limit(1)) is not None


def delete_connector(session: Session, row: ConnectorConfig) -> None:
    """Delete a connector that never received an event, with its award rules.

    Raises:
        ValidationError: events came through it (switch it off instead; the events keep their history).
    """
    if connector_has_events(session, row):
        raise ValidationError(_l("this connector has received events; switch it off instead"), field="connector")
    session.delete(row)
    session.flush()


def list_connectors(where=None):
    """Connectors by slug; ``where`` narrows them (e.g. on ``ConnectorConfig.issuer_id``)."""
    query = select(ConnectorConfig).order_by(ConnectorConfig.slug)
    return query.where(where) if where is not None else query
