"""Open Badges 3.0 tables: per-issuer credential settings and Bitstring Status List allocation.

Keys reuse :class:`hub.badges.models.IssuerKey` (``algorithm`` ``"Ed25519"`` / ``"ES256"`` next to the
RSA ``"RS256"`` key), so rotation and encrypted storage have one home.
"""

from __future__ import annotations

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.badges.models import Assertion, BadgeClass, Issuer
from hub.db import Base, PublicIdMixin, TimestampMixin

PROOF_DATA_INTEGRITY = "data-integrity"
PROOF_VC_JWT = "vc-jwt"
PROOF_FORMATS = (PROOF_DATA_INTEGRITY, PROOF_VC_JWT)
DID_METHODS = ("web", "key")
JWT_ALGORITHMS = ("RS256", "ES256", "EdDSA")

# Bitstring Status List v1.0 §5.1 asks for at least 16 KiB (131,072 entries) per list, for herd privacy.
STATUS_LIST_SIZE = 131072


class IssuerCredentialSettings(TimestampMixin, Base):
    """How an issuer's OB 3.0 credentials are made. A missing row means the defaults.

    ``proof_format``: ``data-integrity`` (eddsa-rdfc-2022, default) or ``vc-jwt``;
    ``did_method``: ``web`` (default, ``did:web`` under ``HUB_BASE_URL``) or ``key``;
    ``jwt_algorithm``: ``RS256`` (default), ``ES256`` or ``EdDSA`` for VC-JWT.
    """

    __tablename__ = "issuer_credential_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), unique=True)
    proof_format: Mapped[str] = mapped_column(String(16), default=PROOF_DATA_INTEGRITY)
    did_method: Mapped[str] = mapped_column(String(8), default="web")
    jwt_algorithm: Mapped[str] = mapped_column(String(8), default="RS256")

    issuer: Mapped[Issuer] = relationship()


class StatusList(PublicIdMixin, TimestampMixin, Base):
    """One Bitstring Status List of an issuer for one purpose (https://www.w3.org/TR/vc-bitstring-status-list/).

    ``next_index`` only grows (an atomic ``UPDATE ... RETURNING`` hands out indexes), so an index is
    never given twice, even to concurrent awards, and never reused after revocation.
    """

    __tablename__ = "status_list"
    __table_args__ = (UniqueConstraint("issuer_id", "purpose", "sequence"),)

    issuer_id: Mapped[int] = mapped_column(ForeignKey("issuer.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16), default="revocation")
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    size: Mapped[int] = mapped_column(Integer, default=STATUS_LIST_SIZE)
    next_index: Mapped[int] = mapped_column(Integer, default=0)

    issuer: Mapped[Issuer] = relationship()


class CredentialStatusEntry(Base):
    """The status list position of one assertion's OB 3.0 credential (one per assertion and purpose)."""

    __tablename__ = "credential_status_entry"
    __table_args__ = (
        UniqueConstraint("status_list_id", "status_index"),
        UniqueConstraint("assertion_id", "purpose"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assertion_id: Mapped[int] = mapped_column(ForeignKey("assertion.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16), default="revocation")
    status_list_id: Mapped[int] = mapped_column(ForeignKey("status_list.id", ondelete="RESTRICT"), index=True)
    status_index: Mapped[int] = mapped_column(Integer)

    assertion: Mapped[Assertion] = relationship()
    status_list: Mapped[StatusList] = relationship()


class AchievementDetails(TimestampMixin, Base):
    """OB 3.0-only facts about a badge class (Achievement), kept beside the OB 2.0 row, which they do
    not change. Names follow https://www.imsglobal.org/spec/ob/v3p0/#achievement.

    ``achievement_type``: an AchievementType term (``Badge``, ``MicroCredential``, ...) or ``ext:...``;
    ``credits_available``: credit hours (float); ``in_language``: BCP 47 tag (``pl``, ``en-GB``).
    """

    __tablename__ = "achievement_details"

    id: Mapped[int] = mapped_column(primary_key=True)
    badge_class_id: Mapped[int] = mapped_column(ForeignKey("badge_class.id", ondelete="CASCADE"), unique=True)
    achievement_type: Mapped[str] = mapped_column(String(64), default="Badge")
    credits_available: Mapped[float | None] = mapped_column(Float)
    field_of_study: Mapped[str | None] = mapped_column(String(255))
    human_code: Mapped[str | None] = mapped_column(String(64))
    in_language: Mapped[str | None] = mapped_column(String(35))

    badge_class: Mapped[BadgeClass] = relationship()


class RecipientIdentifier(Base):
    """A further hashed identity of an assertion's recipient (OB 3.0 IdentityObject), e.g. the LMS's
    ``ltiUserId`` or ``sourcedId``; hashed with the assertion's ``recipient_salt``, never kept plain."""

    __tablename__ = "recipient_identifier"
    __table_args__ = (UniqueConstraint("assertion_id", "identity_type"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assertion_id: Mapped[int] = mapped_column(ForeignKey("assertion.id", ondelete="CASCADE"), index=True)
    identity_type: Mapped[str] = mapped_column(String(32))  # "ltiUserId" | "sourcedId"
    identity_hash: Mapped[str] = mapped_column(String(80))

    assertion: Mapped[Assertion] = relationship()


class StoredCredential(Base):
    """The signed OB 3.0 credential of one assertion in one proof format, as made at award time
    (:func:`hub.credentials.ob3.store_credentials`), served byte for byte by the public GETs.

    ``proof_format``: ``data-integrity`` (``text`` the compact JSON with its eddsa-rdfc-2022 proof) or
    ``vc-jwt`` (``text`` the compact JWS); ``algorithm``: the key's (``Ed25519``) or the JWS ``alg``
    (``RS256``, ``ES256``, ``EdDSA``). Never updated: a revocation changes the status list only, and
    later edits of the badge class or issuer, key rotations and settings changes leave an issued
    credential as it was signed (see the README, "Performance").
    """

    __tablename__ = "stored_credential"
    __table_args__ = (UniqueConstraint("assertion_id", "proof_format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assertion_id: Mapped[int] = mapped_column(ForeignKey("assertion.id", ondelete="CASCADE"))
    proof_format: Mapped[str] = mapped_column(String(16))
    algorithm: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)

    assertion: Mapped[Assertion] = relationship()
