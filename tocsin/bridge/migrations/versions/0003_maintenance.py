"""Maintenance windows, their audit trail, and the alerts they held back.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create maintenance_windows, maintenance_audit and maintenance_alerts."""
    op.create_table(
        "maintenance_windows",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", _TIME, nullable=False),
        sa.Column("ends_at", _TIME, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("ended_at", _TIME, nullable=True),
        sa.Column("ended_by", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_windows"),
    )
    op.create_index("ix_maintenance_windows_ends_at", "maintenance_windows", ["ends_at"])
    op.create_table(
        "maintenance_audit",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("window", sa.String(100), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_audit"),
    )
    op.create_table(
        "maintenance_alerts",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("window", sa.String(100), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotations", sa.JSON(), nullable=False),
        sa.Column("generator_url", sa.Text(), nullable=True),
        sa.Column("starts_at", _TIME, nullable=False),
        sa.Column("ends_at", _TIME, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_received_at", _TIME, nullable=False),
        sa.Column("last_received_at", _TIME, nullable=False),
        sa.Column("release_at", _TIME, nullable=False),
        sa.Column("incident_id", _ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_maintenance_alerts"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_maintenance_alerts_incident_id_incidents",
            ondelete="SET NULL",
        ),
    )
    op.create_index(
        "ix_maintenance_alerts_fingerprint", "maintenance_alerts", ["fingerprint", "status"]
    )
    op.create_index(
        "ix_maintenance_alerts_status_release_at", "maintenance_alerts", ["status", "release_at"]
    )


def downgrade() -> None:
    """Drop the maintenance tables."""
    op.drop_table("maintenance_alerts")
    op.drop_table("maintenance_audit")
    op.drop_table("maintenance_windows")
