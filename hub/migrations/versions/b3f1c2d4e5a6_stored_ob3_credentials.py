"""stored OB 3.0 credentials (signed once, at award time)

Revision ID: b3f1c2d4e5a6
Revises: f3c1a9b7d2e4
Create Date: 2026-12-04 01:45:00
"""

from alembic import op
import sqlalchemy as sa


revision = "b3f1c2d4e5a6"
down_revision = 'f3c1a9b7d2e4'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stored_credential",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assertion_id", sa.Integer(), nullable=False),
        sa.Column("proof_format", sa.String(length=16), nullable=False),
        sa.Column("algorithm", sa.String(length=8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assertion_id"],
            ["assertion.id"],
            name=op.f("fk_stored_credential_assertion_id_assertion"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stored_credential")),
        sa.UniqueConstraint(
            "assertion_id", "proof_format", name=op.f("uq_stored_credential_assertion_id_proof_format")
        ),
    )


def downgrade() -> None:
    op.drop_table("stored_credential")
