"""Weekly maintenance windows set through the API, the CLI or the board.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_COLUMNS = ("days", "day_start", "day_end", "timezone", "first_day", "until_day")


def upgrade() -> None:
    """Add the weekly hours, zone and dates to maintenance_windows (NULL for one-off windows)."""
    op.add_column("maintenance_windows", sa.Column("days", sa.String(32), nullable=True))
    op.add_column("maintenance_windows", sa.Column("day_start", sa.String(5), nullable=True))
    op.add_column("maintenance_windows", sa.Column("day_end", sa.String(5), nullable=True))
    op.add_column("maintenance_windows", sa.Column("timezone", sa.String(64), nullable=True))
    op.add_column("maintenance_windows", sa.Column("first_day", sa.Date(), nullable=True))
    op.add_column("maintenance_windows", sa.Column("until_day", sa.Date(), nullable=True))


def downgrade() -> None:
    """Drop them."""
    with op.batch_alter_table("maintenance_windows") as batch:
        for column in _COLUMNS:
            batch.drop_column(column)
