"""Record what stopped each SLA clock, so a response clock is met only by a person's response.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Stopped response clocks of incidents nobody acknowledged were stopped by their resolution:
# a person's (resolved_by set) or the sender's.
_BACKFILL = """
UPDATE sla_clocks SET stopped_by = CASE
    WHEN EXISTS (
        SELECT 1 FROM incidents
        WHERE incidents.id = sla_clocks.incident_id AND incidents.acknowledged_at IS NOT NULL
    ) THEN 'acknowledged'
    WHEN EXISTS (
        SELECT 1 FROM incidents
        WHERE incidents.id = sla_clocks.incident_id AND incidents.resolved_by IS NOT NULL
    ) THEN 'person_resolved'
    ELSE 'resolved'
END
WHERE clock = 'response' AND stopped_at IS NOT NULL
"""


def upgrade() -> None:
    """Add sla_clocks.stopped_by and fill it in for response clocks already stopped."""
    op.add_column("sla_clocks", sa.Column("stopped_by", sa.String(length=32), nullable=True))
    op.execute(_BACKFILL)


def downgrade() -> None:
    """Drop sla_clocks.stopped_by."""
    with op.batch_alter_table("sla_clocks") as batch:
        batch.drop_column("stopped_by")
