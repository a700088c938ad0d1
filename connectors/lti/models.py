"""Tables of the LTI 1.3 tool: tool keys, platform registrations and deployments, course contexts,
badge classes linked to a context, and the shared short-lived store.

Terms follow LTI 1.3 Core (https://www.imsglobal.org/spec/lti/v1p3/): a *registration* is one
(issuer, client_id) pair — Canvas uses one issuer for all its customers, so the issuer alone is not a
key —, a *deployment* is the platform's ``deployment_id`` under it, a *context* is the course.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Float, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.badges.models import BadgeClass, Issuer
from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime

#: Deployment / registration states. ``pending``: seen or registered, waiting for an administrator;
#: ``inactive``: switched off by an administrator. Launches are accepted for ``active`` ones only.
ACTIVE, PENDING, INACTIVE = "active", "pending", "inactive"
STATUSES = (ACTIVE, PENDING, INACTIVE)
#: Course award rules (``LtiContext.award_rule``).
RULE_MANUAL, RULE_COMPLETION, RULE_GRADE = "manual", "completion", "grade"
AWARD_RULES = (RULE_MANUAL, RULE_COMPLETION, RULE_GRADE)


class LtiToolKey(PublicIdMixin, TimestampMixin, Base):
    """An RSA key pair of the tool (RS256, https://www.imsglobal.org/spec/security/v1p0/#platform-originating-messages).

    ``kid`` is the RFC 7638 thumbprint. The private key is a Fernet token (``ctx.box``). A key is
    *current* while ``retired_at`` is None; a retired key stays in the JWKS until ``expires_at`` so
    platforms that cached the old JWKS keep verifying (rotation with overlap).
    """

    __tablename__ = "lti_tool_key"

    kid: Mapped[str] = mapped_column(String(64), unique=True)
    public_pem: Mapped[str] = mapped_column(Text)
    private_key_encrypted: Mapped[str] = mapped_column(Text)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LtiRegistration(PublicIdMixin, TimestampMixin, Base):
    """A platform registration: (``issuer``, ``client_id``) with the platform's endpoints.

    ``auth_login_url`` is the OIDC authorization endpoint, ``auth_token_url`` the OAuth 2 token
    endpoint, ``auth_audience`` the ``aud`` of client assertions when it differs from the token URL,
    ``key_set_url`` the platform's JWKS. ``tool_key`` signs our client assertions and deep-linking
    responses for this registration. ``status`` is ``active``, ``pending`` (until approved) or ``inactive``.
    """

    __tablename__ = "lti_registration"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    issuer: Mapped[str] = mapped_column(String(1024))
    client_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(1024))
    auth_token_url: Mapped[str] = mapped_column(String(1024))
    auth_audience: Mapped[str | None] = mapped_column(String(1024))
    key_set_url: Mapped[str] = mapped_column(String(1024))
    product_family_code: Mapped[str | None] = mapped_column(String(64))
    scopes: Mapped[list] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    tool_key_id: Mapped[int] = mapped_column(ForeignKey("lti_tool_key.id", ondelete="RESTRICT"))
    issuer_id: Mapped[int | None] = mapped_column(ForeignKey("issuer.id", ondelete="SET NULL"), index=True)

    tool_key: Mapped[LtiToolKey] = relationship()
    badge_issuer: Mapped[Issuer | None] = relationship()
    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="registration", cascade="all, delete-orphan", order_by="LtiDeployment.id"
    )


class LtiDeployment(PublicIdMixin, TimestampMixin, Base):
    """A ``deployment_id`` of a registration. Launches are accepted for ``active`` ones only; an unknown
    deployment of a known registration is recorded as ``pending`` for an administrator to approve."""

    __tablename__ = "lti_deployment"
    __table_args__ = (UniqueConstraint("registration_id", "deployment_id"),)

    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registration.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    registration: Mapped[LtiRegistration] = relationship(back_populates="deployments")


class LtiContext(PublicIdMixin, TimestampMixin, Base):
    """A course (LTI context) of a registration, with the service endpoints its last launch carried.

    Service calls long after a launch (AGS, NRPS) use these stored claims with the registration, never a
    cached launch. ``award_rule``: ``manual``, ``completion`` (an :class:`hub.rules.models.AwardRule` on
    the registration's ``lti`` connector, event ``course_completed``, key = context id) or ``grade``
    (``grade_threshold`` in 0..1 of ``scoreMaximum``, read from AGS results of ``grade_lineitem_url``).
    ``post_scores``: post a completed score to the badge's line item when a badge is awarded here.
    """

    __tablename__ = "lti_context"
    __table_args__ = (UniqueConstraint("registration_id", "context_id"),)

    registration_id: Mapped[int] = mapped_column(ForeignKey("lti_registration.id", ondelete="CASCADE"), index=True)
    deployment_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    label: Mapped[str | None] = mapped_column(String(255))
    ags_endpoint: Mapped[dict] = mapped_column(JSON, default=dict)  # the lti-ags/claim/endpoint claim
    nrps_url: Mapped[str | None] = mapped_column(String(1024))
    award_rule: Mapped[str] = mapped_column(String(16), default=RULE_MANUAL)
    grade_threshold: Mapped[float | None] = mapped_column(Float)
    grade_lineitem_url: Mapped[str | None] = mapped_column(String(1024))
    post_scores: Mapped[bool] = mapped_column(default=False)

    registration: Mapped[LtiRegistration] = relationship()
    badges: Mapped[list[LtiContextBadge]] = relationship(
        back_populates="context", cascade="all, delete-orphan", order_by="LtiContextBadge.id"
    )


class LtiContextBadge(TimestampMixin, Base):
    """A badge class linked to a course. ``lineitem_url``: the AGS line item tagged for this badge
    (created on first score post), when the course posts scores."""

    __tablename__ = "lti_context_badge"
    __table_args__ = (UniqueConstraint("context_id", "badge_class_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    context_id: Mapped[int] = mapped_column(ForeignKey("lti_context.id", ondelete="CASCADE"), index=True)
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id", ondelete="CASCADE"), index=True)
    lineitem_url: Mapped[str | None] = mapped_column(String(1024))

    context: Mapped[LtiContext] = relationship(back_populates="badges")
    badge_class: Mapped[BadgeClass] = relationship()


class LtiStoreEntry(Base):
    """One entry of the database-backed short-lived store (:class:`connectors.lti.store.DatabaseStore`)."""

    __tablename__ = "lti_store"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
