"""Store a host's heartbeat: the last time it said it was alive, and how often it says so."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tocsin.bridge.store.schema import heartbeats

# Runs in the heartbeat's transaction, e.g. to resolve a host-silent incident: (conn, host, now).
HeartbeatHook = Callable[[Connection, str, datetime], None]


def record_heartbeat(
    conn: Connection,
    hooks: Sequence[HeartbeatHook],
    *,
    host: str,
    interval_seconds: float,
    labels: Mapping[str, str],
    now: datetime,
) -> None:
    """Insert or refresh the host's row, then run the heartbeat hooks."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(heartbeats).values(
        host=host,
        interval_seconds=interval_seconds,
        labels=dict(labels),
        first_seen_at=now,
        last_seen_at=now,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[heartbeats.c.host],
            set_={
                "interval_seconds": interval_seconds,
                "labels": dict(labels),
                "last_seen_at": now,
            },
        )
    )
    for hook in hooks:
        hook(conn, host, now)
