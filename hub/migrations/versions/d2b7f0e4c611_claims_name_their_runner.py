"""claims name their runner: claimed_by on inbox events, e-mails and jobs (outage recovery)

Revision ID: d2b7f0e4c611
Revises: c4e81f2a9b30
Create Date: 2026-12-02 08:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'd2b7f0e4c611'
down_revision = 'c4e81f2a9b30'
branch_labels = None
depends_on = None

TABLES = ('inbound_event', 'notification', 'job')


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('claimed_by', sa.String(length=36), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('claimed_by')
