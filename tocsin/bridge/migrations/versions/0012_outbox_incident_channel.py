"""Find an incident's outbox rows to one channel: a claim skips those held by another worker.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Index outbox by incident and channel."""
    op.create_index("ix_outbox_incident_id_channel", "outbox", ["incident_id", "channel"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_outbox_incident_id_channel", table_name="outbox")
