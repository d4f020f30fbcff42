"""What people and agents do with windows: open one, extend it, end it, and see what it held."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from tocsin.bridge.errors import Forbidden
from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.maintenance import store
from tocsin.bridge.maintenance.hold import release_all
from tocsin.bridge.maintenance.store import policy_windows
from tocsin.bridge.maintenance.weekly import weekly_json
from tocsin.bridge.maintenance.windows import Weekly
from tocsin.bridge.platform.clock import Clock, as_utc, rfc3339
from tocsin.bridge.policy.matchers import MatcherError, parse_all
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import maintenance_alerts

# An agent (an ingest token) may only announce a short window on one host of its own naming.
AGENT_LONGEST = timedelta(hours=4)


def check_agent_window(matchers: Sequence[str], starts_at: datetime, ends_at: datetime) -> None:
    """Refuse an ingest token anything but one `instance=` matcher for at most AGENT_LONGEST."""
    try:
        parsed = parse_all(matchers)
    except MatcherError:
        parsed = ()
    if len(parsed) != 1 or parsed[0].name != "instance" or parsed[0].op != "=":
        raise Forbidden("an ingest token may only open a window for one host: ['instance=HOST']")
    if ends_at - starts_at > AGENT_LONGEST:
        raise Forbidden(f"an ingest token may open a window of at most {AGENT_LONGEST}")


def end_window(
    conn: Connection,
    policy: Policy,
    hooks: Sequence[EventHook],
    window_id: int,
    actor: str | None,
    now: datetime,
    tolerance: timedelta,
) -> int:
    """End a window now and release what it held; return how many alerts opened incidents."""
    store.end(conn, window_id, actor, now)
    conn.execute(
        update(maintenance_alerts)
        .where(
            maintenance_alerts.c.window == str(window_id), maintenance_alerts.c.status == "firing"
        )
        .values(release_at=now)
    )
    return release_all(conn, policy, hooks, now, tolerance)


def held_json(conn: Connection, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """Return the alerts each window held back, newest first, keyed by window."""
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in keys}
    if not keys:
        return out
    rows = conn.execute(
        select(maintenance_alerts)
        .where(maintenance_alerts.c.window.in_(list(keys)))
        .order_by(maintenance_alerts.c.id.desc())
        .limit(1000)
    )
    for row in rows:
        out[row.window].append(
            {
                "alertname": row.labels.get("alertname", ""),
                "labels": row.labels,
                "summary": row.annotations.get("summary", ""),
                "status": row.status,
                "starts_at": rfc3339(row.starts_at),
                "first_received_at": rfc3339(row.first_received_at),
                "last_received_at": rfc3339(row.last_received_at),
                "incident_id": row.incident_id,
            }
        )
    return out


def windows_json(conn: Connection, policy: Policy, now: datetime) -> dict[str, Any]:
    """Return one-off windows (open, upcoming, recently over) and weekly ones, by source."""
    rows = store.listed(conn, now)
    weekly_rows = store.weekly_rows(conn, now)
    weekly = policy_windows(policy)
    held = held_json(
        conn, [str(row.id) for row in rows + weekly_rows] + [window.key for window in weekly]
    )
    stored = [window_json(row, now, held[str(row.id)]) for row in rows]
    recurring = [weekly_json(window, now, held[window.key]) for window in weekly] + [
        weekly_json(store.stored_window(row), now, held[str(row.id)], row) for row in weekly_rows
    ]
    return {"windows": stored, "weekly": recurring}


def window_json(row: Any, now: datetime, held: list[dict[str, Any]]) -> dict[str, Any]:
    """Return one stored window as the API shows it (a weekly one as weekly_json does)."""
    if row.days is not None:
        return weekly_json(store.stored_window(row), now, held, row)
    starts_at, ends_at = as_utc(row.starts_at), as_utc(row.ends_at)
    ended_at = as_utc(row.ended_at) if row.ended_at is not None else None
    if ended_at is not None or ends_at <= now:
        status = "ended"
    elif starts_at > now:
        status = "upcoming"
    else:
        status = "active"
    over = min(ends_at, ended_at or ends_at, max(now, starts_at))
    return {
        "id": row.id,
        "key": str(row.id),
        "matchers": list(row.matchers),
        "starts_at": rfc3339(starts_at),
        "ends_at": rfc3339(ends_at),
        "reason": row.reason,
        "created_by": row.created_by,
        "source": row.source,
        "status": status,
        "ended_at": rfc3339(ended_at),
        "ended_by": row.ended_by,
        "maintenance_seconds": max(0.0, (over - starts_at).total_seconds()),
        "held": held,
    }


@dataclass(frozen=True)
class Desk:
    """Window operations bound to a store, the live policy, the event hooks and a clock."""

    store: Store
    policy: Callable[[], Policy]
    hooks: Sequence[EventHook]
    clock: Clock
    tolerance: timedelta

    def open(
        self,
        matchers: Sequence[str],
        ends_at: datetime,
        reason: str,
        actor: str | None,
        source: str,
        starts_at: datetime | None = None,
    ) -> int:
        """Open a window (now unless `starts_at`); return its id."""
        now = self.clock()
        with self.store.begin() as conn:
            return store.create(
                conn,
                matchers=matchers,
                starts_at=starts_at or now,
                ends_at=ends_at,
                reason=reason,
                actor=actor,
                source=source,
                now=now,
            )

    def open_weekly(
        self, matchers: Sequence[str], weekly: Weekly, reason: str, actor: str | None, source: str
    ) -> int:
        """Store a weekly window; return its id."""
        with self.store.begin() as conn:
            return store.create_weekly(
                conn,
                matchers=matchers,
                weekly=weekly,
                reason=reason,
                actor=actor,
                source=source,
                now=self.clock(),
            )

    def extend(self, window_id: int, ends_at: datetime, actor: str | None) -> None:
        """Move an open window's end."""
        with self.store.begin() as conn:
            store.extend(conn, window_id, ends_at, actor, self.clock())

    def end(self, window_id: int, actor: str | None) -> int:
        """End a window now; return how many held alerts opened incidents."""
        with self.store.begin() as conn:
            return end_window(
                conn, self.policy(), self.hooks, window_id, actor, self.clock(), self.tolerance
            )

    def listing(self) -> dict[str, Any]:
        """Return every window worth showing, with what each held back."""
        with self.store.connect() as conn:
            return windows_json(conn, self.policy(), self.clock())

    def shown(self, window_id: int) -> dict[str, Any]:
        """Return one window with what it held and its audit trail."""
        now = self.clock()
        with self.store.connect() as conn:
            row = store.get(conn, window_id)
            found = window_json(row, now, held_json(conn, [str(window_id)])[str(window_id)])
            found["audit"] = [
                {"action": a.action, "actor": a.actor, "at": rfc3339(a.at), "data": a.data}
                for a in store.audit_trail(conn, str(window_id))
            ]
        return found
