"""index of notifications by status: the mail sender's claim reads one ordered range of it

Revision ID: c4d2e6f8a1b3
Revises: b3f1c2d4e5a6
Create Date: 2026-12-04 18:40:00
"""

from alembic import op


revision = "c4d2e6f8a1b3"
down_revision = "b3f1c2d4e5a6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notification_status_id", "notification", ["status", "id"])


def downgrade() -> None:
    op.drop_index("ix_notification_status_id", table_name="notification")
