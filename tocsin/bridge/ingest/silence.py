"""Host heartbeats: a host that stops reporting gets a host-silent incident, resolved on return.

A crashed server cannot raise its own alert, so every heartbeat moves a timer to
`missed` intervals ahead; if the timer fires, the host has been silent that long. The next
heartbeat resolves the incident. The core stores each heartbeat (bridge/ingest/heartbeats.py)
and calls HeartbeatWatch in the same transaction; both sides lock the host's row, so a heartbeat
and the silence check never both win.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Gauge
from sqlalchemy import Connection, func, select, update

from tocsin.bridge.errors import BridgeError
from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.incidents.service import open_system_incident, resolve
from tocsin.bridge.ingest.apply import Hold
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import heartbeats, incidents
from tocsin.bridge.timers.rows import Timer, cancel, schedule

log = logging.getLogger(__name__)
KIND = "heartbeat"
OPEN = ("triggered", "acknowledged")


def silent_key(host: str) -> str:
    """Return the incident key of a host's silence: one open incident per host."""
    return f"heartbeat:{host}"


def _locked(conn: Connection, host: str) -> Any:
    return conn.execute(
        select(heartbeats).where(heartbeats.c.host == host).with_for_update()
    ).first()


class HeartbeatWatch:
    """The HeartbeatHook: move the host's silence timer; resolve its silent incident if any."""

    def __init__(
        self,
        policy: Callable[[], Policy],
        hooks: Sequence[EventHook],
        wake: Callable[[datetime], None] | None = None,
    ) -> None:
        self.policy = policy
        self.hooks = hooks
        self.wake = wake

    def __call__(self, conn: Connection, host: str, now: datetime) -> None:
        row = _locked(conn, host)
        if row is None:
            return
        if row.silent_incident_id is not None:
            _resolve_silence(conn, self.hooks, int(row.silent_incident_id), now)
            conn.execute(
                update(heartbeats).where(heartbeats.c.host == host).values(silent_incident_id=None)
            )
        cancel(conn, kinds=(KIND,), subject=host)
        missed = self.policy().heartbeat.missed
        due = as_utc(now) + timedelta(seconds=float(row.interval_seconds) * missed)
        schedule(conn, KIND, due, now=now, subject=host, payload={"host": host})
        if self.wake is not None:
            self.wake(due)


def _resolve_silence(
    conn: Connection, hooks: Sequence[EventHook], incident_id: int, now: datetime
) -> int | None:
    status = conn.execute(select(incidents.c.status).where(incidents.c.id == incident_id)).scalar()
    if status not in OPEN:
        return None
    resolve(conn, hooks, incident_id, actor=None, now=now, reason="heartbeats returned")
    return incident_id


class SilenceCheck:
    """The heartbeat timer handler: open the host-silent incident of a host that went quiet."""

    def __init__(
        self,
        policy: Callable[[], Policy],
        hooks: Sequence[EventHook],
        hold: Callable[[], Hold | None] = lambda: None,
    ) -> None:
        self.policy = policy
        self.hooks = hooks
        self.hold = hold

    def __call__(self, conn: Connection, timer: Timer, now: datetime) -> None:
        host = timer.subject or str(timer.payload.get("host", ""))
        row = _locked(conn, host)
        if row is None or row.silent_incident_id is not None:
            return
        policy = self.policy()
        missed = policy.heartbeat.missed
        last_seen = as_utc(row.last_seen_at)
        if last_seen + timedelta(seconds=row.interval_seconds * missed) > now:
            return  # a heartbeat came after this timer was set
        labels = {"alertname": "HostSilent", "instance": host, **dict(row.labels or {})}
        hold = self.hold()
        until = hold.covered_until(conn, labels, now) if hold is not None else None
        if until is not None:
            # Planned work: look again when the window ends; a host still silent then pages.
            schedule(conn, KIND, until, now=now, subject=host, payload={"host": host})
            log.info(
                "host %s is silent inside a maintenance window; checked again at %s",
                host,
                rfc3339(until),
            )
            return
        escalation = policy.heartbeat.escalation or policy.routes[-1].escalation
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
                "summary": f"{host} missed {missed} heartbeats ({row.interval_seconds:g}s apart)",
                **({"late_seconds": str(timer.late_seconds)} if timer.late_seconds else {}),
            },
        )
        conn.execute(
            update(heartbeats)
            .where(heartbeats.c.host == host)
            .values(silent_incident_id=incident_id)
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
