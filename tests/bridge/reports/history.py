"""Store report facts as incident, event and clock rows, and generate varied seeded histories."""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, create_engine, insert

from tests.bridge.reports import reference
from tests.bridge.reports.reference import ClockFacts, EventFacts, IncidentFacts
from tocsin.bridge.policy.model import Calendar
from tocsin.bridge.reports.aggregate import Window
from tocsin.bridge.reports.build import build_report
from tocsin.bridge.reports.figures import SlaReport
from tocsin.bridge.store.schema import events, incidents, metadata, sla_clocks
from tocsin.bridge.timers.clocks import RESPONSES


def store(
    conn: Connection,
    found: Iterable[IncidentFacts],
    timeline: Iterable[EventFacts] = (),
    clocks: Iterable[ClockFacts] = (),
) -> None:
    """Insert the facts as the rows the bridge keeps."""
    rows = [
        {
            "id": i.id,
            "key": f"k{i.id}",
            "title": i.title,
            "priority": i.priority,
            "status": "resolved" if i.resolved_at else "triggered",
            "source": "alert",
            "team": i.team,
            "major": i.major,
            "labels": {},
            "annotations": {},
            "created_at": i.created_at,
            "updated_at": i.created_at,
            "acknowledged_at": i.acknowledged_at,
            "resolved_at": i.resolved_at,
            "satisfaction": i.satisfaction,
        }
        for i in found
    ]
    if rows:
        conn.execute(insert(incidents), rows)
    moments = [
        {
            "incident_id": e.incident_id,
            "kind": e.kind,
            "occurred_at": e.occurred_at,
            "data": dict(e.data),
        }
        for e in timeline
    ]
    if moments:
        conn.execute(insert(events), moments)
    kept = [_clock_row(c) for c in clocks]
    if kept:
        conn.execute(insert(sla_clocks), kept)


def _clock_row(c: ClockFacts) -> dict[str, Any]:
    dispute = c.dispute
    return {
        "incident_id": c.incident_id,
        "clock": c.clock,
        "target_seconds": c.target_seconds,
        "started_at": c.due_at or c.breached_at or c.stopped_at or datetime(2026, 1, 1),
        "due_at": c.due_at,
        "stopped_at": c.stopped_at,
        "stopped_by": c.stopped_by,
        "breached_at": c.breached_at,
        "breach_reason": c.breach_reason,
        "breach_exempt": c.breach_exempt,
        "dispute_reason": dispute.reason if dispute else None,
        "disputed_by": dispute.by if dispute else None,
        "disputed_at": dispute.at if dispute else None,
        "dispute_decision": dispute.decision if dispute else None,
        "decided_by": dispute.decided_by if dispute else None,
        "decided_at": dispute.decided_at if dispute else None,
        "decision_note": dispute.note if dispute else None,
    }


def _instant(rng: random.Random, start: datetime, hours: float) -> datetime:
    return start + timedelta(microseconds=rng.randrange(int(hours * 3600e6)))


def _maybe(rng: random.Random, share: float, value: Any) -> Any:
    return value if rng.random() < share else None


def history(
    seed: int, since: datetime, count: int
) -> tuple[list[IncidentFacts], list[EventFacts], list[ClockFacts]]:
    """Return a varied history opened around a three-week window that starts at since."""
    rng = random.Random(seed)
    found: list[IncidentFacts] = []
    timeline: list[EventFacts] = []
    clocks: list[ClockFacts] = []
    for number in range(1, count + 1):
        created = _instant(rng, since - timedelta(days=2), 25 * 24)
        acked = _maybe(rng, 0.7, _instant(rng, created, 30))
        resolved = _maybe(rng, 0.6, _instant(rng, acked or created, 80))
        found.append(
            IncidentFacts(
                number,
                f"incident {number}",
                rng.choice(("P1", "P2", "P3", "P3", "P4")),
                rng.choice(("ops", "db", None, "", "数据库")),
                created,
                acked,
                resolved,
                rng.random() < 0.1,
                _maybe(rng, 0.4, rng.randint(1, 5)),
            )
        )
        timeline.extend(_events(rng, number, created))
        clocks.extend(_clocks(rng, number, created))
    return found, timeline, clocks


def _events(rng: random.Random, number: int, created: datetime) -> list[EventFacts]:
    kinds: Sequence[tuple[str, dict[str, Any]]] = (
        ("incident.paused", {}),
        ("incident.resumed", {}),
        ("incident.escalated", {"level": 0, "name": "response"}),
        ("incident.escalated", {"level": 1}),
        ("incident.escalated", {"level": 2, "name": "major"}),
        ("incident.escalated", {"level": "major"}),
        ("incident.escalated", {"level": 1, "major": True}),
        ("incident.escalated", {"level": 3, "major": False, "unreached": ["schedule:ops"]}),
        ("incident.escalated", {"name": "expert", "unreached": []}),
        ("incident.sla_breached", {"sla": "update", "due_at": "2026-03-02T12:00:00Z"}),
        ("incident.sla_breached", {"sla": "response"}),
        ("incident.sla_breached", {"sla": "resolution", "due_at": "not a time"}),
        ("incident.note_added", {"text": "working on it"}),
        ("incident.note_added", {"text": "internal", "public": False}),
        ("incident.note_added", {"text": "for the reporter", "public": True}),
        ("incident.note_added", {"text": "reply", "from_reporter": True}),
        ("incident.acknowledged", {}),
        ("incident.resolved", {}),
        ("incident.closed", {}),
        ("incident.triggered", {}),
    )
    chosen = [rng.choice(kinds) for _ in range(rng.randint(0, 9))]
    return [EventFacts(number, kind, _instant(rng, created, 90), data) for kind, data in chosen]


def _clocks(rng: random.Random, number: int, created: datetime) -> list[ClockFacts]:
    found = []
    for clock in rng.sample(("response", "update", "resolution"), rng.randint(0, 3)):
        due = _maybe(rng, 0.9, _instant(rng, created, 10))
        stopped = _maybe(rng, 0.7, _instant(rng, created, 14))
        breached = _maybe(rng, 0.3, due or _instant(rng, created, 10))
        found.append(
            ClockFacts(
                number,
                clock,
                float(rng.choice((900, 1800, 7200, 28800))),
                due,
                stopped,
                breached,
                _maybe(rng, 0.5, rng.choice(("phone off", "waiting on vendor", " "))),
                rng.random() < 0.2,
                rng.choice((*RESPONSES, "resolved", None)),
            )
        )
    return found


def sql_report(
    found: Iterable[IncidentFacts],
    timeline: Iterable[EventFacts],
    clocks: Iterable[ClockFacts],
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    filters: Mapping[str, str] | None = None,
    calendars: Mapping[str, Calendar | None] | None = None,
    url: str = "sqlite://",
) -> SlaReport:
    """Store the facts in a fresh database and return the report the database computes.

    Filters only label the report, as they did for the in-memory computation; targets are the
    clocks' own, per priority of the incidents opened in the window.
    """
    found, clocks = list(found), list(clocks)
    opened = [i for i in found if since <= i.created_at < until]
    by_incident: dict[int, list[ClockFacts]] = {}
    for clock in clocks:
        by_incident.setdefault(clock.incident_id, []).append(clock)
    engine = create_engine(url)
    metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            store(conn, found, timeline, clocks)
            return build_report(
                conn,
                Window(since, until),
                now=now,
                calendars=calendars or {},
                targets=reference.targets_of_clocks(opened, by_incident),
                filters=filters or {},
            )
    finally:
        engine.dispose()
