"""People and access: users, their roles per issuer, API tokens, the audit log, bulk-award jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime, utcnow

ROLE_ADMIN = "admin"  # issuer administrator: badges, connectors, rules, awards of the issuer
ROLE_STAFF = "staff"  # issuer staff: award and revoke only
ROLES = (ROLE_ADMIN, ROLE_STAFF)


class User(PublicIdMixin, TimestampMixin, Base):
    """A person who signs in to the console (and owns API tokens).

    ``password_hash`` is Werkzeug's scrypt hash (``scrypt:32768:8:1$salt$hex``); ``totp_secret_encrypted``
    is the RFC 6238 base32 secret, Fernet-encrypted, and ``totp_enabled`` turns the second factor on once
    the user proved a first code. ``locale`` is ``pl``/``en`` or None (browser decides).
    """

    __tablename__ = "hub_user"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_site_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    totp_secret_encrypted: Mapped[str | None] = mapped_column(Text)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # last accepted time step: no code reuse
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")


class Membership(Base):
    """A user's role (:data:`ROLES`) at one issuer."""

    __tablename__ = "issuer_membership"
    __table_args__ = (UniqueConstraint("user_id", "issuer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("hub_user.id", ondelete="CASCADE"), index=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))

    user: Mapped[User] = relationship(back_populates="memberships")
    issuer = relationship("Issuer")


class ApiToken(PublicIdMixin, TimestampMixin, Base):
    """A bearer token for ``/api/v1``, acting as its user, capped by ``scope``.

    The token is ``bh_<prefix>_<secret>``; only ``prefix`` (to find the row) and the SHA-256 hex of the
    whole token are stored, so it is shown once. ``scope`` is ``read`` (GET only), ``award`` (also award,
    revoke, replay) or ``manage`` (everything the user may do).
    """

    __tablename__ = "api_token"

    user_id: Mapped[int] = mapped_column(ForeignKey("hub_user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(16), default="read")
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class AuditEntry(Base):
    """One change: who (``actor``), what (``action`` on ``object_type``/``object_id``), when (``at``),
    and the object's fields ``before``/``after`` (secrets never included). ``issuer_id`` scopes it."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ix_audit_entry_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("hub_user.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(320))  # e-mail or "cli", kept when the user is deleted
    via: Mapped[str] = mapped_column(String(16))  # console | api | cli
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str | None] = mapped_column(String(64))
    issuer_id: Mapped[int | None] = mapped_column(ForeignKey("issuer.id", ondelete="SET NULL"), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)


class BulkJob(PublicIdMixin, TimestampMixin, Base):
    """A bulk award from a CSV upload: validated ``rows`` (dicts), run in the background.

    ``status`` is ``queued`` -> ``running`` -> ``done`` | ``failed``; ``done`` counts rows handled,
    ``created`` new assertions; ``errors`` lists ``{"line", "error"}`` met while awarding (in the preview
    also ``"warning": True`` rows, repeats that are skipped). ``notify``: the recipients get the award
    e-mail (chosen when the job is started).
    """

    __tablename__ = "bulk_job"

    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("hub_user.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    rows: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(JSON, default=list)
    notify: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
