"""OpenID4VCI wallet offers and nonces

Revision ID: f4c1d2e3a5b6
Revises: 1366287769ab
Create Date: 2026-12-04 01:50:00.000000
"""

from alembic import op
import sqlalchemy as sa
import hub.db


revision = "f4c1d2e3a5b6"
down_revision = "1366287769ab"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wallet_offer",
        sa.Column("assertion_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("offer_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("expires_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("token_expires_at", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("issued_at", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("issued_format", sa.String(length=16), nullable=True),
        sa.Column("holder_id", sa.String(length=2048), nullable=True),
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["assertion_id"], ["assertion.id"], name=op.f("fk_wallet_offer_assertion_id_assertion"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"], ["learner.id"], name=op.f("fk_wallet_offer_learner_id_learner"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_offer")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_wallet_offer_code_hash")),
        sa.UniqueConstraint("offer_hash", name=op.f("uq_wallet_offer_offer_hash")),
        sa.UniqueConstraint("public_id", name=op.f("uq_wallet_offer_public_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_wallet_offer_token_hash")),
    )
    with op.batch_alter_table("wallet_offer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallet_offer_assertion_id"), ["assertion_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_wallet_offer_learner_id"), ["learner_id"], unique=False)
    op.create_table(
        "wallet_nonce",
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce_hash", name=op.f("pk_wallet_nonce")),
    )
    with op.batch_alter_table("wallet_nonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_wallet_nonce_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wallet_nonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallet_nonce_expires_at"))
    op.drop_table("wallet_nonce")
    with op.batch_alter_table("wallet_offer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallet_offer_learner_id"))
        batch_op.drop_index(batch_op.f("ix_wallet_offer_assertion_id"))
    op.drop_table("wallet_offer")
