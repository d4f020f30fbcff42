"""An incident remembers who edited its title: alerts then no longer overwrite it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add incidents.title_edited_by."""
    op.add_column("incidents", sa.Column("title_edited_by", sa.String(length=100), nullable=True))


def downgrade() -> None:
    """Drop it."""
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("title_edited_by")
