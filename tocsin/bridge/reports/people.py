"""The SLA report per person: what each acknowledged, how fast, their breaches, pages that reached them.

A person's row counts incidents opened in the window: those they acknowledged (with the median and
p90 time from report to acknowledgement, business time where the priority keeps a calendar), the
missed deadlines of incidents they acknowledged or hold, and escalation steps that paged them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, Connection, select

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import Calendar
from tocsin.bridge.store.schema import events, incidents, sla_clocks
from tocsin.bridge.timers.calendar import elapsed

# Seconds between two instants for a priority: business time where it keeps a calendar.
Measure = Callable[[str, datetime, datetime], float]


def wall_seconds(priority: str, start: datetime, end: datetime) -> float:
    """Return the wall-clock seconds from start to end, whatever the priority."""
    return (end - start).total_seconds()


def measure_in(calendar_for: Callable[[str], Calendar | None]) -> Measure:
    """Return the measure counting each priority's own calendar (none: around the clock)."""

    def measure(priority: str, start: datetime, end: datetime) -> float:
        try:
            calendar = calendar_for(priority)
        except KeyError:  # a priority since removed from the policy: wall time
            calendar = None
        return max(0.0, elapsed(calendar, start, end).total_seconds())

    return measure


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Return the linearly interpolated percentile of sorted values (numpy's default method)."""
    rank = fraction * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class PersonStats:
    """One person's row of the report."""

    person: str
    acknowledged: int = 0
    ack_median_seconds: float | None = None
    ack_p90_seconds: float | None = None
    breaches: int = 0
    escalations: int = 0  # escalation steps that paged them


@dataclass
class _Tally:
    ack_seconds: list[float] = field(default_factory=list)
    breached: set[tuple[int, str]] = field(default_factory=set)
    escalations: int = 0


@dataclass(frozen=True)
class IncidentPeople:
    """Who acknowledged and who holds one incident, and when it was reported and acknowledged."""

    id: int
    priority: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    assignee: str | None


def person_stats(
    chosen: Sequence[IncidentPeople],
    breached: Iterable[tuple[int, str]],
    escalations: Iterable[tuple[int, Mapping[str, Any]]],
    measure: Measure,
) -> tuple[PersonStats, ...]:
    """Return one row per person who acknowledged, held a breached incident or was paged, by name."""
    tallies: dict[str, _Tally] = {}
    by_id = {incident.id: incident for incident in chosen}
    for incident in chosen:
        if incident.acknowledged_by and incident.acknowledged_at is not None:
            seconds = measure(incident.priority, incident.created_at, incident.acknowledged_at)
            tallies.setdefault(incident.acknowledged_by, _Tally()).ack_seconds.append(seconds)
    for incident_id, clock in breached:
        held = by_id.get(incident_id)
        if held is None:
            continue
        for person in {held.acknowledged_by, held.assignee} - {None}:
            tallies.setdefault(str(person), _Tally()).breached.add((incident_id, clock))
    for incident_id, data in escalations:
        if incident_id not in by_id or data.get("level") == 0:
            continue  # the first page is not an escalation
        for target in set(data.get("targets") or []):
            kind, _, name = str(target).partition(":")
            if kind == "person" and name:
                tallies.setdefault(name, _Tally()).escalations += 1
    return tuple(_row(person, tallies[person]) for person in sorted(tallies))


def _row(person: str, tally: _Tally) -> PersonStats:
    ordered = sorted(tally.ack_seconds)
    return PersonStats(
        person=person,
        acknowledged=len(ordered),
        ack_median_seconds=percentile(ordered, 0.5) if ordered else None,
        ack_p90_seconds=percentile(ordered, 0.9) if ordered else None,
        breaches=len(tally.breached),
        escalations=tally.escalations,
    )


def load_person_stats(
    conn: Connection, chosen: CTE, calendar_for: Callable[[str], Calendar | None]
) -> tuple[PersonStats, ...]:
    """Read what the per-person rows need for the window's incidents (`chosen`: their ids)."""
    chosen_ids = select(chosen.c.id)
    found = [
        IncidentPeople(
            id=int(r.id),
            priority=r.priority,
            created_at=as_utc(r.created_at),
            acknowledged_at=as_utc(r.acknowledged_at) if r.acknowledged_at else None,
            acknowledged_by=r.acknowledged_by,
            assignee=r.assignee,
        )
        for r in conn.execute(
            select(
                incidents.c.id,
                incidents.c.priority,
                incidents.c.created_at,
                incidents.c.acknowledged_at,
                incidents.c.acknowledged_by,
                incidents.c.assignee,
            ).where(incidents.c.id.in_(chosen_ids))
        )
    ]
    breached = [
        (int(r.incident_id), str(r.clock))
        for r in conn.execute(
            select(sla_clocks.c.incident_id, sla_clocks.c.clock).where(
                sla_clocks.c.incident_id.in_(chosen_ids),
                sla_clocks.c.breached_at.is_not(None),
                sla_clocks.c.breach_exempt.is_(False),
            )
        )
    ]
    escalations = [
        (int(r.incident_id), r.data or {})
        for r in conn.execute(
            select(events.c.incident_id, events.c.data).where(
                events.c.incident_id.in_(chosen_ids), events.c.kind == "incident.escalated"
            )
        )
    ]
    return person_stats(found, breached, escalations, measure_in(calendar_for))


def person_to_dict(row: PersonStats) -> dict[str, Any]:
    """Return one person's row as the report's JSON gives it."""
    return {
        "person": row.person,
        "acknowledged": row.acknowledged,
        "ack_median_seconds": row.ack_median_seconds,
        "ack_p90_seconds": row.ack_p90_seconds,
        "breaches": row.breaches,
        "escalations_reached": row.escalations,
    }
