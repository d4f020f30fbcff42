"""An outbox entry records what a phone provider made of it: its message or call id and status.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add provider_ref and provider_status to outbox, and find rows by provider_ref."""
    op.add_column("outbox", sa.Column("provider_ref", sa.String(length=100), nullable=True))
    op.add_column("outbox", sa.Column("provider_status", sa.String(length=32), nullable=True))
    op.create_index("ix_outbox_provider_ref", "outbox", ["provider_ref"])


def downgrade() -> None:
    """Drop them."""
    op.drop_index("ix_outbox_provider_ref", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("provider_status")
        batch.drop_column("provider_ref")
