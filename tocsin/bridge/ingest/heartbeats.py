"""Store hosts' heartbeats: one row per host, updated by its primary key, in shared commits.

A heartbeat sets its host's last-seen time, interval, labels and silence deadline (last seen
plus `missed` intervals); tocsin.bridge.ingest.silence finds the hosts whose deadline passed
with one indexed query. Heartbeats arriving together share one transaction and one statement
(Store.write_shared), so a heartbeat costs the same for 100 hosts as for 100,000.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Executable, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import heartbeats

# Runs in the heartbeat's transaction for a host that was silent (it has an open host-silent
# incident), e.g. to resolve that incident: (conn, host, now).
HeartbeatHook = Callable[[Connection, str, datetime], None]


def _upsert(dialect: str) -> Executable:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(heartbeats)
    return statement.on_conflict_do_update(
        index_elements=[heartbeats.c.host],
        set_={
            name: statement.excluded[name]
            for name in ("interval_seconds", "labels", "last_seen_at", "deadline_at")
        },
    )


# Built once per dialect: values travel as parameters, so the statement compiles once.
_UPSERT = {dialect: _upsert(dialect) for dialect in ("postgresql", "sqlite")}
_RETURNING = select(heartbeats.c.host).where(
    in_list(heartbeats.c.host, "hosts"), heartbeats.c.silent_incident_id.is_not(None)
)


@dataclass(frozen=True)
class Beat:
    """One heartbeat as shared-transaction work; heartbeats waiting together merge."""

    host: str
    interval_seconds: float
    labels: Mapping[str, str]
    now: datetime
    missed: int
    hooks: Sequence[HeartbeatHook] = field(default=(), compare=False)

    def __call__(self, conn: Connection) -> None:
        record_heartbeats(conn, [self])

    @property
    def merge(self) -> Callable[[Connection, Sequence[Beat]], list[None]]:
        """Return how heartbeats waiting together are stored: one statement for all."""
        return _merge

    def row(self) -> dict[str, object]:
        """Return the host's column values after this heartbeat."""
        now = as_utc(self.now)
        return {
            "host": self.host,
            "interval_seconds": self.interval_seconds,
            "labels": dict(self.labels),
            "first_seen_at": now,
            "last_seen_at": now,
            "deadline_at": now + timedelta(seconds=self.interval_seconds * self.missed),
        }


def _merge(conn: Connection, beats: Sequence[Beat]) -> list[None]:
    record_heartbeats(conn, beats)
    return [None] * len(beats)


def record_heartbeats(conn: Connection, beats: Sequence[Beat]) -> None:
    """Insert or refresh each host's row, then run the hooks for hosts that were silent."""
    latest = {beat.host: beat for beat in beats}  # one row per host in the statement
    conn.execute(_UPSERT[conn.dialect.name], [beat.row() for beat in latest.values()])
    for host in conn.execute(_RETURNING, {"hosts": list(latest)}).scalars():
        beat = latest[host]
        for hook in beat.hooks:
            hook(conn, host, beat.now)
