"""What an OpenID4VCI issuance keeps: the offer (with its pre-authorized code and access token) and the
nonces handed out by the nonce endpoint. Every secret is stored as its SHA-256 (hex), never as itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.badges.models import Assertion
from hub.db import Base, PublicIdMixin, TimestampMixin, UTCDateTime


class WalletOffer(PublicIdMixin, TimestampMixin, Base):
    """One credential offer of one award to the learner it was issued to.

    ``offer_hash``: SHA-256 of the secret in the ``credential_offer_uri``; ``code_hash``: of the
    pre-authorized code (derived from the offer secret, so the offer document can be served again without
    storing the code); ``token_hash``: of the access token, set when the code is redeemed (``redeemed_at``,
    once) and valid until ``token_expires_at``; ``issued_at``/``issued_format``/``holder_id``: the one
    credential issued with that token (format ``ldp_vc`` or ``jwt_vc_json``, the holder's DID).
    ``expires_at``: the end of the offer (``HUB_WALLET_OFFER_MINUTES`` after it was made)."""

    __tablename__ = "wallet_offer"

    assertion_id: Mapped[int] = mapped_column(ForeignKey("assertion.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learner.id", ondelete="CASCADE"), index=True)
    offer_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    token_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_format: Mapped[str | None] = mapped_column(String(16))
    holder_id: Mapped[str | None] = mapped_column(String(2048))

    assertion: Mapped[Assertion] = relationship()


class WalletNonce(Base):
    """A ``c_nonce`` from the nonce endpoint (its SHA-256), usable once until ``expires_at``."""

    __tablename__ = "wallet_nonce"

    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
