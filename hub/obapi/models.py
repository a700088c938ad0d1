"""OAuth 2.0 rows of the Open Badges API: registered clients, authorization codes and tokens.

Every secret (client secret, code, access and refresh token) is stored as its SHA-256 hex digest
(:func:`hub.obapi.services.digest`), never in the clear: a leaked table grants nothing. Times are UTC.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import list_to_scope, scope_to_list
from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime


def digest(secret: str) -> str:
    """The stored form of a secret: SHA-256 hex of its UTF-8 bytes (secrets are random, 256 bits)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


class OAuthClient(PublicIdMixin, TimestampMixin, ClientMixin, Base):
    """A host registered by RFC 7591 Dynamic Client Registration.

    ``client_id`` is what the host sends (random, public); ``secret_hash`` the digest of its secret;
    ``metadata`` the registered client metadata (RFC 7591 section 2: ``client_name``, ``client_uri``,
    ``redirect_uris``, ``grant_types``, ``response_types``, ``scope``, ``token_endpoint_auth_method``...)."""

    __tablename__ = "oauth_client"

    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    client_metadata: Mapped[dict] = mapped_column(JSON, default=dict)

    # Authlib's ClientMixin (https://docs.authlib.org/en/latest/specs/rfc6749.html)
    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.client_metadata.get("redirect_uris") or []
        return uris[0] if uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes this client registered (all it registered when none are asked)."""
        allowed = scope_to_list(self.client_metadata.get("scope") or "") or []
        if not scope:
            return list_to_scope(allowed)
        return list_to_scope([s for s in scope_to_list(scope) if s in allowed])

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match with a registered URI (RFC 9700 section 4.1.3: no pattern, no prefix)."""
        return redirect_uri in (self.client_metadata.get("redirect_uris") or [])

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, digest(client_secret or ""))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # Moodle registers client_secret_basic, then refreshes with client_secret_post: a confidential
        # client may use either; public clients are not registered here.
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type in (self.client_metadata.get("response_types") or ["code"])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.client_metadata.get("grant_types") or ["authorization_code"])


class OAuthCode(TimestampMixin, AuthorizationCodeMixin, Base):
    """An authorization code (RFC 6749 section 4.1), single use, short-lived (``expires_at``), bound to
    its client, learner, ``redirect_uri``, granted ``scope`` and PKCE ``code_challenge`` (S256)."""

    __tablename__ = "oauth_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("oauth_client.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learner.id", ondelete="CASCADE"), index=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(16))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self) -> bool:
        return self.expires_at <= _now()


class OAuthToken(PublicIdMixin, TimestampMixin, TokenMixin, Base):
    """An access token with its refresh token: one grant of ``scope`` by a learner to a client.

    ``access_expires_at`` (``HUB_OBAPI_ACCESS_TOKEN_MINUTES``) and ``refresh_expires_at``
    (``HUB_OBAPI_REFRESH_TOKEN_DAYS``); ``revoked_at`` is set by RFC 7009 revocation, by a refresh (the
    old pair is replaced) or when the learner disconnects the application."""

    __tablename__ = "oauth_token"

    client_id: Mapped[int] = mapped_column(ForeignKey("oauth_client.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learner.id", ondelete="CASCADE"), index=True)
    access_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    scope: Mapped[str] = mapped_column(Text)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[OAuthClient] = relationship(lazy="joined")

    def check_client(self, client) -> bool:
        return client is not None and client.id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.access_expires_at - self.created_at).total_seconds()))

    def is_expired(self) -> bool:
        return self.access_expires_at <= _now()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def is_refresh_usable(self) -> bool:
        """Not revoked, and its refresh token has not expired."""
        return self.revoked_at is None and self.refresh_expires_at is not None and self.refresh_expires_at > _now()

    def get_user(self):
        return self.learner_id

    def get_client(self):
        return self.client
