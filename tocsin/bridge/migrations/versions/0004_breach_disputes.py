"""A breach can be disputed with a reason and decided, upheld or exempted, by a manager.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)
COLUMNS = (
    ("dispute_reason", sa.Text()),
    ("disputed_by", sa.String(length=100)),
    ("disputed_at", TIME),
    ("dispute_decision", sa.String(length=16)),
    ("decided_by", sa.String(length=100)),
    ("decided_at", TIME),
    ("decision_note", sa.Text()),
)


def upgrade() -> None:
    """Add the dispute columns to sla_clocks."""
    for name, kind in COLUMNS:
        op.add_column("sla_clocks", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    """Drop the dispute columns."""
    with op.batch_alter_table("sla_clocks") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
