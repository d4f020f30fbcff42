"""Heartbeats keep their host's silence deadline on the host's row, not in a timer per beat.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from datetime import UTC, timedelta

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The policy's default `heartbeat.missed`; each host's next heartbeat sets its own deadline.
MISSED = 3
_hosts = sa.table(
    "heartbeats",
    sa.column("host", sa.String),
    sa.column("interval_seconds", sa.Float),
    sa.column("last_seen_at", sa.DateTime(timezone=True)),
    sa.column("silent_incident_id", sa.Integer),
    sa.column("deadline_at", sa.DateTime(timezone=True)),
)
_timers = sa.table(
    "timers",
    sa.column("kind", sa.String),
    sa.column("fired_at", sa.DateTime(timezone=True)),
    sa.column("cancelled", sa.Boolean),
)


def upgrade() -> None:
    """Add heartbeats.deadline_at with its index; move pending silence timers onto the rows."""
    op.add_column("heartbeats", sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_heartbeats_deadline_at", "heartbeats", ["deadline_at"], unique=False)
    conn = op.get_bind()
    live = conn.execute(
        sa.select(_hosts.c.host, _hosts.c.interval_seconds, _hosts.c.last_seen_at).where(
            _hosts.c.silent_incident_id.is_(None)
        )
    ).all()
    for host, interval, last_seen in live:
        seen = last_seen if last_seen.tzinfo else last_seen.replace(tzinfo=UTC)
        conn.execute(
            sa.update(_hosts)
            .where(_hosts.c.host == host)
            .values(deadline_at=seen + timedelta(seconds=interval * MISSED))
        )
    conn.execute(
        sa.update(_timers)
        .where(
            _timers.c.kind == "heartbeat",
            _timers.c.fired_at.is_(None),
            _timers.c.cancelled == sa.false(),
        )
        .values(cancelled=True)
    )


def downgrade() -> None:
    """Drop heartbeats.deadline_at (silence checks would need their timers back)."""
    op.drop_index("ix_heartbeats_deadline_at", table_name="heartbeats")
    op.drop_column("heartbeats", "deadline_at")
