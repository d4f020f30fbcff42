"""Incidents keep the reporter's mail address and language, and who gave the satisfaction score.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add reporter_email, reporter_language and satisfaction_by to incidents."""
    op.add_column("incidents", sa.Column("reporter_email", sa.String(length=254), nullable=True))
    op.add_column("incidents", sa.Column("reporter_language", sa.String(length=8), nullable=True))
    op.add_column("incidents", sa.Column("satisfaction_by", sa.String(length=16), nullable=True))
    # Scores typed before the survey existed were typed by staff at closing.
    op.execute("UPDATE incidents SET satisfaction_by = 'staff' WHERE satisfaction IS NOT NULL")


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("satisfaction_by")
        batch.drop_column("reporter_language")
        batch.drop_column("reporter_email")
