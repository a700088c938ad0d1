"""rate limit counters shared by every process (the database storage of Flask-Limiter)

Revision ID: e7a1c3d5f902
Revises: e5a1c0d7f3b2
Create Date: 2026-12-02 18:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'e7a1c3d5f902'
down_revision = 'e5a1c0d7f3b2'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rate_limit_counter',
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('hits', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit_counter')),
    )
    with op.batch_alter_table('rate_limit_counter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rate_limit_counter_expires_at'), ['expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rate_limit_counter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rate_limit_counter_expires_at'))
    op.drop_table('rate_limit_counter')
