"""jobs: one durable table for background work (bulk awards, Moodle syncs, LTI grade syncs)

Revision ID: a7c3e9d10012
Revises: bb0d6f6780ed
Create Date: 2026-12-02 07:30:00
"""
from alembic import op
import sqlalchemy as sa
import hub.db


revision = 'a7c3e9d10012'
down_revision = 'bb0d6f6780ed'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'job',
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('payload', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('max_attempts', sa.Integer(), nullable=False),
        sa.Column('run_after', hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('heartbeat_at', hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('finished_at', hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('progress', sa.JSON(), nullable=False),
        sa.Column('dedup_key', sa.String(length=255), nullable=True),
        sa.Column('issuer_id', sa.Integer(), nullable=True),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['issuer_id'], ['issuer.id'], name=op.f('fk_job_issuer_id_issuer'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_job')),
        sa.UniqueConstraint('dedup_key', name=op.f('uq_job_dedup_key')),
        sa.UniqueConstraint('public_id', name=op.f('uq_job_public_id')),
    )
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.create_index('ix_job_status_run_after', ['status', 'run_after'], unique=False)
        batch_op.create_index(batch_op.f('ix_job_issuer_id'), ['issuer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_issuer_id'))
        batch_op.drop_index('ix_job_status_run_after')
    op.drop_table('job')
