"""lti: each platform registration belongs to an issuer (whose badge classes its teachers see)

Registrations of a database migrated from before this revision have no issuer: their platforms still
launch, but teachers' actions are refused until a site administrator assigns one.

Revision ID: c4e81f2a9b30
Revises: a7c3e9d10012
Create Date: 2026-12-03 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'c4e81f2a9b30'
down_revision = 'a7c3e9d10012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('lti_registration', schema=None) as batch_op:
        batch_op.add_column(sa.Column('issuer_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_lti_registration_issuer_id'), ['issuer_id'], unique=False)
        batch_op.create_foreign_key(
            batch_op.f('fk_lti_registration_issuer_id_issuer'), 'issuer', ['issuer_id'], ['id'], ondelete='SET NULL'
        )


def downgrade() -> None:
    with op.batch_alter_table('lti_registration', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_lti_registration_issuer_id_issuer'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_lti_registration_issuer_id'))
        batch_op.drop_column('issuer_id')
