"""identities in one normal form: stored e-mail addresses re-normalised (NFC, IDNA), collisions reported

Revision ID: e5a1c0d7f3b2
Revises: d2b7f0e4c611
Create Date: 2026-12-02 18:30:00
"""
from alembic import op

from hub.migrations.identities import renormalise


revision = 'e5a1c0d7f3b2'
down_revision = 'd2b7f0e4c611'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Data only: see hub/migrations/identities.py. Collisions are logged and printed, never merged.
    for line in renormalise(op.get_bind()).lines():
        print(line)


def downgrade() -> None:
    pass  # the normal form is a valid stored form for the code before it too
