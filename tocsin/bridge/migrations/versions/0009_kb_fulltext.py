"""The knowledge base searches a full-text index: SQLite FTS5 or a PostgreSQL tsvector with GIN.

Adds the kb_stale queue, the full-text table and the triggers that queue documented incidents
on every change (store/fulltext.py), and an index on incidents.resolved_at, which the knowledge
base lists newest first. Every documented incident is queued, so the bridge indexes the history
in the background after the upgrade (kb/index.py); searches read the queue meanwhile.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from tocsin.bridge.store import fulltext

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create the queue, the full-text table and its triggers; queue the documented history."""
    op.create_index("ix_incidents_resolved_at", "incidents", ["resolved_at"])
    op.create_table(
        "kb_stale",
        sa.Column("seq", Id, primary_key=True, autoincrement=True),
        sa.Column("incident_id", Id, nullable=False),
    )
    op.create_index("ix_kb_stale_incident_id", "kb_stale", ["incident_id"])
    fulltext.create(op.get_bind())
    op.execute(
        "INSERT INTO kb_stale (incident_id) SELECT id FROM incidents "
        "WHERE status IN ('resolved', 'closed') "
        "AND (root_cause IS NOT NULL OR solution IS NOT NULL) ORDER BY id"
    )


def downgrade() -> None:
    """Drop them."""
    fulltext.drop(op.get_bind())
    op.drop_index("ix_kb_stale_incident_id", table_name="kb_stale")
    op.drop_table("kb_stale")
    op.drop_index("ix_incidents_resolved_at", table_name="incidents")
