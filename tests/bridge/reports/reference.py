"""The SLA report as Python computed it before the database did: the oracle the SQL must match.

This is the former in-memory computation (reports/compute.py and the loader of reports/query.py),
kept verbatim in the tests so that every seeded history compares the two.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from tocsin.bridge.incidents.events import public_update
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import CLOCKS, Policy
from tocsin.bridge.reports.figures import (
    Breach,
    ClockStats,
    Dispute,
    DurationStats,
    GroupStats,
    Satisfaction,
    SlaReport,
    Unreached,
)
from tocsin.bridge.reports.query import targets_of
from tocsin.bridge.reports.trend import WEEK, Week, by_reason, week_start
from tocsin.bridge.store.schema import events, incidents, sla_clocks
from tocsin.bridge.timers.calendar import elapsed
from tocsin.bridge.timers.clocks import BREACHED, MET, UNANSWERED, ended

# Seconds between two instants for a priority: wall time by default, business time when the
# caller passes the SLA calendar's arithmetic.
Measure = Callable[[str, datetime, datetime], float]
NO_TEAM = "(none)"


def wall_seconds(priority: str, start: datetime, end: datetime) -> float:
    """Return the wall-clock seconds from start to end, whatever the priority."""
    return max(0.0, (as_utc(end) - as_utc(start)).total_seconds())


@dataclass(frozen=True)
class IncidentFacts:
    """The columns of an incident row the report reads."""

    id: int
    title: str
    priority: str
    team: str | None
    created_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    major: bool = False
    satisfaction: int | None = None


@dataclass(frozen=True)
class EventFacts:
    """One timeline row: its incident, kind, time and payload."""

    incident_id: int
    kind: str
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ClockFacts:
    """One sla_clocks row."""

    incident_id: int
    clock: str
    target_seconds: float
    due_at: datetime | None = None
    stopped_at: datetime | None = None
    breached_at: datetime | None = None
    breach_reason: str | None = None
    breach_exempt: bool = False
    stopped_by: str | None = None
    dispute: Dispute | None = None

    @property
    def missed(self) -> bool:
        """Return whether the deadline was missed: recorded, or stopped after it."""
        if self.breached_at is not None:
            return True
        stopped, due = self.stopped_at, self.due_at
        return stopped is not None and due is not None and as_utc(stopped) > as_utc(due)


def duration_stats(values: Sequence[float]) -> DurationStats:
    """Summarise durations; every figure is None when there are none."""
    ordered = sorted(values)
    if not ordered:
        return DurationStats(0, None, None, None)
    return DurationStats(
        len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9), ordered[-1]
    )


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Return the linearly interpolated percentile of sorted values (numpy's default method)."""
    rank = fraction * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def pauses(events: Iterable[EventFacts]) -> list[tuple[datetime, datetime | None]]:
    """Return the paused intervals of one timeline; an open pause has no end."""
    intervals: list[tuple[datetime, datetime | None]] = []
    started: datetime | None = None
    for event in sorted(events, key=lambda e: as_utc(e.occurred_at)):
        if event.kind == "incident.paused" and started is None:
            started = as_utc(event.occurred_at)
        elif event.kind == "incident.resumed" and started is not None:
            intervals.append((started, as_utc(event.occurred_at)))
            started = None
    if started is not None:
        intervals.append((started, None))
    return intervals


def active_seconds(
    priority: str,
    start: datetime,
    end: datetime,
    paused: Sequence[tuple[datetime, datetime | None]],
    measure: Measure = wall_seconds,
) -> float:
    """Return the time from start to end that was not spent paused."""
    start, end = as_utc(start), as_utc(end)
    total = measure(priority, start, end)
    for pause_start, pause_end in paused:
        low = max(start, pause_start)
        high = end if pause_end is None else min(end, pause_end)
        if high > low:
            total -= measure(priority, low, high)
    return max(0.0, total)


# The events that end a cycle of each clock: an update clock starts afresh on every note.
CYCLE_ENDS = {
    "response": ("incident.acknowledged", "incident.resolved"),
    "update": ("incident.note_added", "incident.resolved", "incident.closed"),
    "resolution": ("incident.resolved",),
}


def _ends_cycle(clock: str, event: EventFacts) -> bool:
    """Return whether an event ends a cycle of the clock (only a public note is an update)."""
    if event.kind == "incident.note_added" and not public_update(event.data):
        return False
    return event.kind in CYCLE_ENDS[clock]


def _instant(text: Any, default: datetime) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(str(text).replace("Z", "+00:00")))
    except ValueError:
        return default


def past_cycles(
    incident_id: int, timeline: Sequence[EventFacts], rows: Sequence[ClockFacts]
) -> list[ClockFacts]:
    """Return breaches of earlier clock cycles: in the timeline, no longer in sla_clocks.

    A restarted clock (the update clock, on each note) overwrites its row, so a breach before
    the restart survives only as an incident.sla_breached event; it has no recorded reason.
    """
    ordered = sorted(timeline, key=lambda e: as_utc(e.occurred_at))
    current = {(r.clock, as_utc(r.breached_at)) for r in rows if r.breached_at is not None}
    targets = {r.clock: r.target_seconds for r in rows}
    found: list[ClockFacts] = []
    for index, event in enumerate(ordered):
        clock = str(event.data.get("sla", ""))
        at = as_utc(event.occurred_at)
        if event.kind != "incident.sla_breached" or clock not in CYCLE_ENDS:
            continue
        if (clock, at) in current:
            continue
        end = next(
            (as_utc(e.occurred_at) for e in ordered[index + 1 :] if _ends_cycle(clock, e)),
            None,
        )
        found.append(
            ClockFacts(
                incident_id=incident_id,
                clock=clock,
                target_seconds=targets.get(clock, 0.0),
                due_at=_instant(event.data.get("due_at"), at),
                stopped_at=end,
                breached_at=at,
            )
        )
    return found


def _late_seconds(clock: ClockFacts, now: datetime) -> tuple[datetime, float]:
    # A paused clock has no due_at; its breach time is then the deadline it missed.
    deadline = as_utc(clock.due_at or clock.breached_at or now)
    end = as_utc(clock.stopped_at) if clock.stopped_at is not None else now
    return deadline, max(0.0, (end - deadline).total_seconds())


def _outcome(row: ClockFacts) -> str:
    if row.missed:
        return "exempt" if row.breach_exempt else BREACHED
    if row.stopped_at is None:
        return "running"
    return ended(row.clock, row.stopped_by, late=False)


def _clock_stats(rows: Iterable[ClockFacts]) -> dict[str, ClockStats]:
    kinds = (MET, BREACHED, "exempt", "running", UNANSWERED)
    counts = {name: dict.fromkeys(kinds, 0) for name in CLOCKS}
    for row in rows:
        counts.setdefault(row.clock, dict.fromkeys(kinds, 0))[_outcome(row)] += 1
    return {name: ClockStats(**bucket) for name, bucket in counts.items()}


def _satisfaction(incidents: Sequence[IncidentFacts]) -> Satisfaction:
    scores = [i.satisfaction for i in incidents if i.satisfaction is not None]
    histogram: dict[int, int] = {}
    for score in sorted(scores):
        histogram[score] = histogram.get(score, 0) + 1
    mean = sum(scores) / len(scores) if scores else None
    return Satisfaction(count=len(scores), mean=mean, scores=histogram)


def is_escalation(event: EventFacts) -> bool:
    """Return whether an event raised the escalation level; the first page (level 0) did not."""
    return event.kind == "incident.escalated" and event.data.get("level") != 0


def _is_major(incident: IncidentFacts, events: Sequence[EventFacts]) -> bool:
    return incident.major or any(
        e.kind == "incident.escalated"
        and (e.data.get("major") or "major" in (e.data.get("level"), e.data.get("name")))
        for e in events
    )


def group_stats(
    incidents: Sequence[IncidentFacts],
    events: Mapping[int, Sequence[EventFacts]],
    clocks: Mapping[int, Sequence[ClockFacts]],
    measure: Measure = wall_seconds,
) -> GroupStats:
    """Compute every figure for one group of incidents."""
    ack: list[float] = []
    resolve: list[float] = []
    escalations = escalated = major = 0
    for incident in incidents:
        timeline = events.get(incident.id, ())
        paused = pauses(timeline)
        if incident.acknowledged_at is not None:
            ack.append(
                active_seconds(
                    incident.priority,
                    incident.created_at,
                    incident.acknowledged_at,
                    paused,
                    measure,
                )
            )
        if incident.resolved_at is not None:
            resolve.append(
                active_seconds(
                    incident.priority, incident.created_at, incident.resolved_at, paused, measure
                )
            )
        steps = sum(1 for e in timeline if is_escalation(e))
        escalations += steps
        escalated += steps > 0
        major += _is_major(incident, timeline)
    clock_stats = _clock_stats(row for i in incidents for row in clocks.get(i.id, ()))
    return GroupStats(
        opened=len(incidents),
        acknowledged=len(ack),
        resolved=len(resolve),
        time_to_acknowledge=duration_stats(ack),
        time_to_resolve=duration_stats(resolve),
        clocks=clock_stats,
        breaches=sum(c.breached for c in clock_stats.values()),
        exemptions=sum(c.exempt for c in clock_stats.values()),
        escalations=escalations,
        escalated_incidents=escalated,
        major_incidents=major,
        satisfaction=_satisfaction(incidents),
    )


def _grouped(
    incidents: Sequence[IncidentFacts], key: Callable[[IncidentFacts], str]
) -> dict[str, list[IncidentFacts]]:
    groups: dict[str, list[IncidentFacts]] = {}
    for incident in incidents:
        groups.setdefault(key(incident), []).append(incident)
    return dict(sorted(groups.items()))


def compute_report(
    incidents: Sequence[IncidentFacts],
    events: Iterable[EventFacts],
    clocks: Iterable[ClockFacts],
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    targets: Mapping[str, Mapping[str, float | None]] | None = None,
    measure: Measure = wall_seconds,
    filters: Mapping[str, str] | None = None,
) -> SlaReport:
    """Build the report for incidents opened in [since, until); targets default to the clocks'."""
    since, until, now = as_utc(since), as_utc(until), as_utc(now)
    chosen = sorted(
        (i for i in incidents if since <= as_utc(i.created_at) < until), key=lambda i: i.id
    )
    ids = {i.id for i in chosen}
    by_incident: dict[int, list[EventFacts]] = {}
    for event in events:
        if event.incident_id in ids:
            by_incident.setdefault(event.incident_id, []).append(event)
    clock_rows: dict[int, list[ClockFacts]] = {}
    for clock in clocks:
        if clock.incident_id in ids:
            clock_rows.setdefault(clock.incident_id, []).append(clock)
    for incident_id, timeline in by_incident.items():
        current = clock_rows.setdefault(incident_id, [])
        current.extend(past_cycles(incident_id, timeline, current))

    def stats(group: Sequence[IncidentFacts]) -> GroupStats:
        return group_stats(group, by_incident, clock_rows, measure)

    breaches: list[Breach] = []
    for incident in chosen:
        for clock in sorted(clock_rows.get(incident.id, ()), key=lambda c: CLOCKS.index(c.clock)):
            if not clock.missed:
                continue
            due, late = _late_seconds(clock, now)
            breaches.append(
                Breach(
                    incident_id=incident.id,
                    title=incident.title,
                    priority=incident.priority,
                    team=incident.team,
                    clock=clock.clock,
                    due_at=due,
                    late_seconds=late,
                    reason=clock.breach_reason,
                    exempt=clock.breach_exempt,
                    dispute=clock.dispute,
                )
            )
    return SlaReport(
        since=since,
        until=until,
        generated_at=now,
        total=stats(chosen),
        by_priority={k: stats(v) for k, v in _grouped(chosen, lambda i: i.priority).items()},
        by_team={k: stats(v) for k, v in _grouped(chosen, lambda i: i.team or NO_TEAM).items()},
        breaches=tuple(b for b in breaches if not b.exempt),
        exemptions=tuple(b for b in breaches if b.exempt),
        targets=dict(targets) if targets is not None else targets_of_clocks(chosen, clock_rows),
        filters=dict(filters or {}),
        unreached=_unreached(chosen, by_incident),
        trend=weekly_trend(chosen, since, until, stats),
        breach_reasons=by_reason(b for b in breaches if not b.exempt),
    )


def _unreached(
    incidents: Sequence[IncidentFacts], events: Mapping[int, Sequence[EventFacts]]
) -> tuple[Unreached, ...]:
    found = []
    for incident in incidents:
        for event in sorted(events.get(incident.id, ()), key=lambda e: as_utc(e.occurred_at)):
            missed = event.data.get("unreached") if event.kind == "incident.escalated" else None
            if missed:
                found.append(
                    Unreached(
                        incident.id,
                        incident.title,
                        incident.priority,
                        incident.team,
                        as_utc(event.occurred_at),
                        tuple(str(t) for t in missed),
                    )
                )
    return tuple(found)


def targets_of_clocks(
    incidents: Sequence[IncidentFacts], clocks: Mapping[int, Sequence[ClockFacts]]
) -> dict[str, dict[str, float | None]]:
    found: dict[str, dict[str, float | None]] = {}
    for incident in incidents:
        entry = found.setdefault(incident.priority, dict.fromkeys(CLOCKS))
        for clock in clocks.get(incident.id, ()):
            entry[clock.clock] = clock.target_seconds
    return dict(sorted(found.items()))


def weekly_trend(
    incidents: Sequence[IncidentFacts],
    since: datetime,
    until: datetime,
    stats: Callable[[Sequence[IncidentFacts]], GroupStats],
) -> dict[str, tuple[Week, ...]]:
    """Return, per priority, one Week per week of the window, oldest first."""
    starts = []
    start = week_start(since)
    while start < until:
        starts.append(start)
        start += WEEK
    trend: dict[str, tuple[Week, ...]] = {}
    for priority in sorted({i.priority for i in incidents}):
        weeks = []
        for first in starts:
            chosen = [
                i
                for i in incidents
                if i.priority == priority and first <= as_utc(i.created_at) < first + WEEK
            ]
            group = stats(chosen)
            weeks.append(
                Week(
                    start=first,
                    opened=group.opened,
                    ack_median=group.time_to_acknowledge.median,
                    within_target=group.clocks["response"].within_target,
                )
            )
        trend[priority] = tuple(weeks)
    return trend


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


def measure_for(policy: Policy) -> Measure:
    """Return the measure that counts business time for priorities with a calendar."""

    def measure(priority: str, start: datetime, end: datetime) -> float:
        if priority not in policy.priorities:
            return wall_seconds(priority, start, end)
        return max(0.0, elapsed(policy.calendar_for(priority), start, end).total_seconds())

    return measure


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
