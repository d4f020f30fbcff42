"""Load a window's incidents, timelines and clocks, and parse the window people ask for."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select

from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import CLOCKS, Policy
from tocsin.bridge.reports.compute import (
    ClockFacts,
    Dispute,
    EventFacts,
    IncidentFacts,
    Measure,
    SlaReport,
    compute_report,
    wall_seconds,
)
from tocsin.bridge.store.schema import events, incidents, sla_clocks
from tocsin.bridge.timers.calendar import elapsed
from tocsin.common.durations import parse_duration

DEFAULT_PERIOD = "7d"
EVENT_KINDS = (
    "incident.paused",
    "incident.resumed",
    "incident.escalated",
    "incident.sla_breached",
    "incident.acknowledged",
    "incident.note_added",
    "incident.resolved",
    "incident.closed",
)


def parse_instant(text: str, now: datetime, name: str) -> datetime:
    """Return the instant RFC 3339 text names, or now minus a duration such as '7d'."""
    value = text.strip()
    try:
        return now - timedelta(seconds=parse_duration(value, numbers=True))
    except ValueError:
        pass
    except OverflowError as exc:
        raise InvalidInput(f"{name} {text!r} reaches back before the year 1", field=name) from exc
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"{name} {text!r} is neither RFC 3339 (2026-03-02T09:00:00Z) nor a duration back from now (7d)",
            field=name,
        ) from exc
    if parsed.tzinfo is None:
        raise InvalidInput(
            f"{name} {text!r} has no time zone; add Z or an offset such as +08:00", field=name
        )
    try:
        return as_utc(parsed)
    except OverflowError as exc:
        raise InvalidInput(f"{name} {text!r} is out of range in UTC", field=name) from exc


def parse_window(since: str | None, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """Return [since, until): until defaults to now, since to seven days before until."""
    end = parse_instant(until, now, "until") if until else now
    start = (
        parse_instant(since, now, "since")
        if since
        else end - timedelta(seconds=parse_duration(DEFAULT_PERIOD))
    )
    if start >= end:
        raise InvalidInput(
            f"since ({since}) must be before until ({until or 'now'})", field="since"
        )
    return start, end


def measure_for(policy: Policy) -> Measure:
    """Return the measure that counts business time for priorities with a calendar."""

    def measure(priority: str, start: datetime, end: datetime) -> float:
        if priority not in policy.priorities:
            return wall_seconds(priority, start, end)
        return max(0.0, elapsed(policy.calendar_for(priority), start, end).total_seconds())

    return measure


def targets_of(policy: Policy, priority: str | None = None) -> dict[str, dict[str, float | None]]:
    """Return each priority's targets in seconds (None where a clock is not kept)."""
    found: dict[str, dict[str, float | None]] = {}
    for key, rules in policy.priorities.items():
        if priority is None or key == priority:
            found[key] = {
                clock: (target.total_seconds() if (target := rules.target(clock)) else None)
                for clock in CLOCKS
            }
    return found


def _when(value: Any) -> datetime | None:
    return as_utc(value) if value is not None else None


def load_report(
    conn: Connection,
    policy: Policy,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    team: str | None = None,
    priority: str | None = None,
) -> SlaReport:
    """Read the incidents opened in [since, until) (optionally one team or priority) and report."""
    chosen = select(incidents.c.id).where(
        incidents.c.created_at >= since, incidents.c.created_at < until
    )
    if team is not None:
        chosen = chosen.where(incidents.c.team == team)
    if priority is not None:
        chosen = chosen.where(incidents.c.priority == priority)
    rows = conn.execute(select(incidents).where(incidents.c.id.in_(chosen)))
    facts = [
        IncidentFacts(
            id=int(r.id),
            title=r.title,
            priority=r.priority,
            team=r.team,
            created_at=as_utc(r.created_at),
            acknowledged_at=_when(r.acknowledged_at),
            resolved_at=_when(r.resolved_at),
            major=bool(r.major),
            satisfaction=r.satisfaction,
        )
        for r in rows
    ]
    timeline = [
        EventFacts(int(r.incident_id), r.kind, as_utc(r.occurred_at), r.data or {})
        for r in conn.execute(
            select(events).where(events.c.incident_id.in_(chosen), events.c.kind.in_(EVENT_KINDS))
        )
    ]
    clocks = [
        ClockFacts(
            incident_id=int(r.incident_id),
            clock=r.clock,
            target_seconds=float(r.target_seconds),
            due_at=_when(r.due_at),
            stopped_at=_when(r.stopped_at),
            breached_at=_when(r.breached_at),
            breach_reason=r.breach_reason,
            breach_exempt=bool(r.breach_exempt),
            stopped_by=r.stopped_by,
            dispute=Dispute(
                r.dispute_reason,
                r.disputed_by,
                _when(r.disputed_at),
                r.dispute_decision,
                r.decided_by,
                _when(r.decided_at),
                r.decision_note,
            )
            if r.dispute_reason is not None
            else None,
        )
        for r in conn.execute(select(sla_clocks).where(sla_clocks.c.incident_id.in_(chosen)))
    ]
    filters = {k: v for k, v in (("team", team), ("priority", priority)) if v is not None}
    return compute_report(
        facts,
        timeline,
        clocks,
        since=since,
        until=until,
        now=now,
        targets=targets_of(policy, priority),
        measure=measure_for(policy),
        filters=filters,
    )
