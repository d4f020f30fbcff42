"""Host heartbeats: a host that stops reporting gets a host-silent incident, resolved on return.

A crashed server cannot raise its own alert, so every heartbeat moves its host's silence
deadline `missed` intervals ahead (tocsin.bridge.ingest.heartbeats); SilenceSweep finds the hosts
whose deadline passed with one indexed query and opens their incidents, clearing the deadline.
The next heartbeat resolves the incident (HeartbeatReturn). Both sides lock the host's row (a
heartbeat by its upsert, the sweep with FOR UPDATE SKIP LOCKED), so a heartbeat and the sweep
never both win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import Connection, bindparam, func, select, update

from tocsin.bridge.errors import BridgeError
from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.incidents.service import open_system_incident, resolve
from tocsin.bridge.ingest.apply import Hold
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import heartbeats, incidents

log = logging.getLogger(__name__)
OPEN = ("triggered", "acknowledged")
SWEEP_BATCH = 100  # hosts turned silent per transaction
_DUE = (
    select(heartbeats)
    .where(heartbeats.c.deadline_at <= bindparam("now"))
    .order_by(heartbeats.c.deadline_at)
    .limit(SWEEP_BATCH)
)
_ANY_DUE = select(heartbeats.c.host).where(heartbeats.c.deadline_at <= bindparam("now")).limit(1)


def silent_key(host: str) -> str:
    """Return the incident key of a host's silence: one open incident per host."""
    return f"heartbeat:{host}"


class HeartbeatReturn:
    """The HeartbeatHook: a silent host's heartbeat resolves its host-silent incident."""

    def __init__(self, hooks: Sequence[EventHook]) -> None:
        self.hooks = hooks

    def __call__(self, conn: Connection, host: str, now: datetime) -> None:
        incident_id = conn.execute(
            select(heartbeats.c.silent_incident_id).where(heartbeats.c.host == host)
        ).scalar()
        if incident_id is None:
            return
        conn.execute(
            update(heartbeats).where(heartbeats.c.host == host).values(silent_incident_id=None)
        )
        status = conn.execute(
            select(incidents.c.status).where(incidents.c.id == incident_id)
        ).scalar()
        if status in OPEN:
            resolve(
                conn,
                self.hooks,
                int(incident_id),
                actor=None,
                now=now,
                reason="heartbeats returned",
            )


class SilenceSweep:
    """Open the host-silent incident of every host whose heartbeat deadline has passed."""

    def __init__(
        self,
        store: Store,
        policy: Callable[[], Policy],
        hooks: Sequence[EventHook],
        hold: Callable[[], Hold | None] = lambda: None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.hooks = hooks
        self.hold = hold

    def __call__(self, now: datetime) -> int:
        """Turn the hosts silent whose deadline passed by `now`; return how many."""
        with self.store.connect() as conn:  # a read first: a quiet pass takes no write lock
            if conn.execute(_ANY_DUE, {"now": now}).first() is None:
                return 0
        total = 0
        for _ in range(100):  # bounded: 10,000 hosts a pass; the next pass takes the rest
            with self.store.begin() as conn:
                found = self.sweep(conn, now)
            total += found
            if found < SWEEP_BATCH:
                break
        return total

    def sweep(self, conn: Connection, now: datetime) -> int:
        """Turn silent one batch of hosts past their deadline, in the caller's transaction."""
        query = (
            _DUE.with_for_update(skip_locked=True) if conn.dialect.name == "postgresql" else _DUE
        )
        rows = conn.execute(query, {"now": now}).all()
        policy = self.policy()
        for row in rows:
            self._silent(conn, policy, row, now)
        return len(rows)

    def _silent(self, conn: Connection, policy: Policy, row: Any, now: datetime) -> None:
        host = str(row.host)
        last_seen, deadline = as_utc(row.last_seen_at), as_utc(row.deadline_at)
        interval = float(row.interval_seconds)
        missed = max(1, round((deadline - last_seen) / timedelta(seconds=interval)))
        labels = {"alertname": "HostSilent", "instance": host, **dict(row.labels or {})}
        hold = self.hold()
        until = hold.covered_until(conn, labels, now) if hold is not None else None
        if until is not None:
            # Planned work: look again when the window ends; a host still silent then pages.
            conn.execute(
                update(heartbeats).where(heartbeats.c.host == host).values(deadline_at=until)
            )
            log.info(
                "host %s is silent inside a maintenance window; checked again at %s",
                host,
                rfc3339(until),
            )
            return
        escalation = policy.heartbeat.escalation or policy.routes[-1].escalation
        late = (now - deadline).total_seconds()
        incident_id, _ = open_system_incident(
            conn,
            self.hooks,
            key=silent_key(host),
            now=now,
            title=f"Host {host} is silent: no heartbeat since {rfc3339(last_seen)}",
            priority=policy.heartbeat.priority,
            source="heartbeat",
            host=host,
            team=policy.heartbeat.team,
            escalation_policy=escalation,
            labels=labels,
            annotations={
                "summary": f"{host} missed {missed} heartbeats ({interval:g}s apart)",
                **({"late_seconds": f"{late:.3f}"} if late >= 5.0 else {}),
            },
        )
        conn.execute(
            update(heartbeats)
            .where(heartbeats.c.host == host)
            .values(silent_incident_id=incident_id, deadline_at=None)
        )


def register_host_gauge(metrics: Metrics, store: Store) -> None:
    """Export tocsin_bridge_heartbeat_hosts{state}, counted from the store on each scrape."""
    gauge = Gauge(
        "tocsin_bridge_heartbeat_hosts",
        "Hosts sending heartbeats, by state (alive or silent).",
        ["state"],
        registry=metrics.registry,
    )

    def refresh() -> None:
        try:
            with store.connect() as conn:
                silent = heartbeats.c.silent_incident_id.is_not(None)
                query = select(silent.label("silent"), func.count()).group_by(silent)
                counts = {bool(s): int(n) for s, n in conn.execute(query)}
        except BridgeError:
            log.warning("cannot count heartbeat hosts: database unavailable")
            return
        gauge.labels(state="alive").set(counts.get(False, 0))
        gauge.labels(state="silent").set(counts.get(True, 0))

    metrics.on_scrape(refresh)
