"""Open Badges API: OAuth 2.0 clients, authorization codes and tokens (stored hashed)

Revision ID: f3c1a9b7d2e4
Revises: f4c1d2e3a5b6
Create Date: 2026-12-04 01:50:00
"""
from alembic import op
import sqlalchemy as sa

from hub.db import UTCDateTime


revision = 'f3c1a9b7d2e4'
down_revision = 'f4c1d2e3a5b6'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'oauth_client',
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('secret_hash', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
        sa.Column('client_metadata', sa.JSON(), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_client')),
        sa.UniqueConstraint('client_id', name=op.f('uq_oauth_client_client_id')),
        sa.UniqueConstraint('public_id', name=op.f('uq_oauth_client_public_id')),
    )
    op.create_table(
        'oauth_code',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('learner_id', sa.Integer(), nullable=False),
        sa.Column('redirect_uri', sa.Text(), nullable=False),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('code_challenge', sa.String(length=128), nullable=True),
        sa.Column('code_challenge_method', sa.String(length=16), nullable=True),
        sa.Column('expires_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['oauth_client.id'], name=op.f('fk_oauth_code_client_id_oauth_client'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['learner_id'], ['learner.id'], name=op.f('fk_oauth_code_learner_id_learner'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_code')),
        sa.UniqueConstraint('code_hash', name=op.f('uq_oauth_code_code_hash')),
    )
    with op.batch_alter_table('oauth_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_code_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_code_learner_id'), ['learner_id'], unique=False)
    op.create_table(
        'oauth_token',
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('learner_id', sa.Integer(), nullable=False),
        sa.Column('access_hash', sa.String(length=64), nullable=False),
        sa.Column('refresh_hash', sa.String(length=64), nullable=True),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('access_expires_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('refresh_expires_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('public_id', sa.String(length=36), nullable=False),
        sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['oauth_client.id'], name=op.f('fk_oauth_token_client_id_oauth_client'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['learner_id'], ['learner.id'], name=op.f('fk_oauth_token_learner_id_learner'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_token')),
        sa.UniqueConstraint('access_hash', name=op.f('uq_oauth_token_access_hash')),
        sa.UniqueConstraint('public_id', name=op.f('uq_oauth_token_public_id')),
        sa.UniqueConstraint('refresh_hash', name=op.f('uq_oauth_token_refresh_hash')),
    )
    with op.batch_alter_table('oauth_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_token_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_token_learner_id'), ['learner_id'], unique=False)


def downgrade() -> None:
    op.drop_table('oauth_token')
    op.drop_table('oauth_code')
    op.drop_table('oauth_client')
