"""Hold back new alerts a maintenance window covers, and release them when it ends.

A held alert is stored in maintenance_alerts, shown on the board, and pages nobody. A timer at
its window's end releases it: still firing (resent within the skew tolerance), it goes through
ingestion as a new alert at that moment and opens an incident that pages; resolved, or no
longer resent, it opens nothing. A window extended or another still covering it keeps it held.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.ingest.apply import HoldSession, apply_alerts
from tocsin.bridge.ingest.parse import Alert
from tocsin.bridge.maintenance.store import windows
from tocsin.bridge.maintenance.windows import Window, covering
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.schema import alerts, maintenance_alerts, timers
from tocsin.bridge.timers.rows import Timer, pending_clause, schedule

KIND = "maintenance_release"
RELEASE_ATTEMPTS = 3
log = logging.getLogger(__name__)

_HELD_FIRING = select(maintenance_alerts).where(maintenance_alerts.c.status == "firing")


class Holder:
    """The runtime's Hold: a session per batch that opens something."""

    def __init__(
        self, policy: Callable[[], Policy], suppressed: Counter, wake: Callable[[datetime], None]
    ) -> None:
        self.policy = policy
        self.suppressed = suppressed
        self.wake = wake

    def session(self, conn: Connection, now: datetime) -> HoldSession:
        """Read the windows open now, once for the batch."""
        return _Session(conn, now, windows(conn, self.policy(), now), self)

    def covered_until(
        self, conn: Connection, labels: Mapping[str, str], now: datetime
    ) -> datetime | None:
        """Return the end of the window covering these labels now, if one does."""
        found = covering(windows(conn, self.policy(), now), labels, now)
        return None if found is None else found[1]


class _Session:
    def __init__(
        self, conn: Connection, now: datetime, open_windows: list[Window], holder: Holder
    ) -> None:
        self.conn = conn
        self.now = now
        self.windows = open_windows
        self.holder = holder

    def hold(self, alert: Alert, fingerprint: str) -> bool:
        found = covering(self.windows, alert.labels, self.now) if self.windows else None
        if found is None:
            return False
        window, release_at = found
        held = _held(self.conn, fingerprint)
        values = {
            "labels": alert.labels,
            "annotations": alert.annotations,
            "generator_url": alert.generator_url,
            "ends_at": alert.ends_at,
            "last_received_at": self.now,
            "window": window.key,
            "release_at": release_at,
        }
        if held is None:
            self.conn.execute(
                insert(maintenance_alerts).values(
                    fingerprint=fingerprint,
                    starts_at=alert.starts_at,
                    status="firing",
                    first_received_at=self.now,
                    **values,
                )
            )
            self.holder.suppressed.inc()
            log.info(
                "alert %r held back by maintenance window %s until %s",
                alert.labels.get("alertname", ""),
                window.key,
                release_at.isoformat(),
            )
        else:
            self.conn.execute(
                update(maintenance_alerts)
                .where(maintenance_alerts.c.id == held.id)
                .values(**values)
            )
        ensure_release(self.conn, release_at, self.now)
        self.holder.wake(release_at)
        return True

    def resolved(self, alert: Alert, fingerprint: str) -> None:
        held = _held(self.conn, fingerprint)
        if held is not None:
            self.conn.execute(
                update(maintenance_alerts)
                .where(maintenance_alerts.c.id == held.id)
                .values(
                    status="resolved", ends_at=alert.ends_at or self.now, last_received_at=self.now
                )
            )


def ensure_release(conn: Connection, at: datetime, now: datetime) -> None:
    """Make sure a release timer is pending at `at` (one per distinct end)."""
    exists = conn.execute(
        select(timers.c.id).where(
            *pending_clause(), timers.c.kind == KIND, timers.c.due_at == as_utc(at)
        )
    ).first()
    if exists is None:
        schedule(conn, KIND, at, now=now, subject="maintenance")


class Release:
    """The maintenance_release timer handler: release what ended windows held back."""

    def __init__(
        self,
        policy: Callable[[], Policy],
        hooks: Sequence[EventHook],
        tolerance: Callable[[], timedelta],
    ) -> None:
        self.policy = policy
        self.hooks = hooks
        self.tolerance = tolerance

    def __call__(self, conn: Connection, timer: Timer, now: datetime) -> None:
        release_all(conn, self.policy(), self.hooks, now, self.tolerance())


def release_all(
    conn: Connection,
    policy: Policy,
    hooks: Sequence[EventHook],
    now: datetime,
    tolerance: timedelta,
) -> int:
    """Release held alerts whose window is over; return how many opened again as alerts."""
    due = list(conn.execute(_HELD_FIRING.where(maintenance_alerts.c.release_at <= now)))
    if not due:
        return 0
    open_windows = windows(conn, policy, now)
    released: list[tuple[Any, Alert]] = []
    for row in due:
        labels = dict(row.labels)
        still = covering(open_windows, labels, now)
        if still is not None:
            window, release_at = still
            conn.execute(
                update(maintenance_alerts)
                .where(maintenance_alerts.c.id == row.id)
                .values(window=window.key, release_at=release_at)
            )
            ensure_release(conn, release_at, now)
            continue
        ends_at = as_utc(row.ends_at) if row.ends_at else None
        if ends_at is not None and ends_at + tolerance < now:
            conn.execute(
                update(maintenance_alerts)
                .where(maintenance_alerts.c.id == row.id)
                .values(status="resolved")
            )
            continue
        alert = Alert(
            labels=labels,
            annotations=dict(row.annotations),
            starts_at=as_utc(row.starts_at),
            ends_at=ends_at if ends_at is None or ends_at > now else now + tolerance,
            generator_url=row.generator_url,
        )
        released.append((row, alert))
    if released:
        _apply_racing_ingest(conn, hooks, policy, [alert for _, alert in released], now, tolerance)
        for row, alert in released:
            conn.execute(
                update(maintenance_alerts)
                .where(maintenance_alerts.c.id == row.id)
                .values(status="released", incident_id=_incident_of(conn, row.fingerprint))
            )
            log.warning(
                "maintenance window %s is over and alert %r still fires: it opens an incident now",
                row.window,
                alert.labels.get("alertname", ""),
            )
    return len(released)


def _apply_racing_ingest(
    conn: Connection,
    hooks: Sequence[EventHook],
    policy: Policy,
    batch: list[Alert],
    now: datetime,
    tolerance: timedelta,
) -> None:
    """Apply released alerts; if a resend opened the same group's incident first, join it.

    A resend arriving as the window ends may open the group's incident in another transaction
    (the unique open key refuses the second); redone in a savepoint, the release then sees the
    committed incident and joins it, as ingestion itself does on that conflict.
    """
    for attempt in range(RELEASE_ATTEMPTS):
        try:
            with conn.begin_nested():
                apply_alerts(conn, hooks, policy, batch, now, tolerance)
            return
        except IntegrityError:
            if attempt == RELEASE_ATTEMPTS - 1:
                raise


def _incident_of(conn: Connection, fingerprint: str) -> int | None:
    row = conn.execute(
        select(alerts.c.incident_id)
        .where(alerts.c.fingerprint == fingerprint)
        .order_by(alerts.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else int(row.incident_id)


def _held(conn: Connection, fingerprint: str) -> Any:
    return conn.execute(
        _HELD_FIRING.where(maintenance_alerts.c.fingerprint == fingerprint).order_by(
            maintenance_alerts.c.id.desc()
        )
    ).first()
