"""imported badges: the learner's backpack; backpack e-mails in the notification outbox

Revision ID: e7a3c9d1b524
Revises: e7a1c3d5f902
Create Date: 2026-12-02 18:40:00
"""
from alembic import op
import sqlalchemy as sa

from hub.db import UTCDateTime


revision = 'e7a3c9d1b524'
down_revision = 'e7a1c3d5f902'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'imported_badge',
        sa.Column('learner_id', sa.Integer(), nullable=False),
        sa.Column('badge_key', sa.String(length=255), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=True),
        sa.Column('issuer_name', sa.String(length=255), nullable=True),
        sa.Column('checks', sa.JSON(), nullable=False),
        sa.Column('document', sa.JSON(), nullable=True),
        sa.Column('payload', sa.Text(), nullable=True),
        sa.Column('source_url', sa.String(length=2048), nullable=True),
        sa.Column('original', sa.LargeBinary(), nullable=True),
        sa.Column('original_type', sa.String(length=64), nullable=True),
        sa.Column('checked_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['learner_id'], ['learner.id'], name=op.f('fk_imported_badge_learner_id_learner'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_imported_badge')),
        sa.UniqueConstraint('learner_id', 'badge_key', name=op.f('uq_imported_badge_learner_id_badge_key')),
        sa.UniqueConstraint('public_id', name=op.f('uq_imported_badge_public_id')),
    )
    with op.batch_alter_table('imported_badge', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imported_badge_learner_id'), ['learner_id'], unique=False)
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('imported_badge_id', sa.Integer(), nullable=True))
        batch_op.alter_column('assertion_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(
            batch_op.f('fk_notification_imported_badge_id_imported_badge'), 'imported_badge', ['imported_badge_id'], ['id'],
            ondelete='CASCADE',
        )


def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_notification_imported_badge_id_imported_badge'), type_='foreignkey')
        batch_op.alter_column('assertion_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('imported_badge_id')
    with op.batch_alter_table('imported_badge', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imported_badge_learner_id'))
    op.drop_table('imported_badge')
