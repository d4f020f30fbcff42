"""The SLA report per person: what each acknowledged, how fast, their breaches, pages that reached them.

A person's row counts incidents opened in the window: those they acknowledged (with the median and
p90 time from report to acknowledgement, business time where the priority keeps a calendar,
ranked with the report's other durations in reports/build.py), the missed deadlines of incidents
they acknowledged or hold, and escalation steps that paged them. The database counts; only the
window's escalation steps are read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, select

from tocsin.bridge.reports.aggregate import of_window, timeline_of
from tocsin.bridge.store.schema import events, sla_clocks


@dataclass(frozen=True)
class PersonStats:
    """One person's row of the report."""

    person: str
    acknowledged: int = 0
    ack_median_seconds: float | None = None
    ack_p90_seconds: float | None = None
    breaches: int = 0
    escalations: int = 0  # escalation steps that paged them


def breaches_held(conn: Connection, inc: Table) -> dict[str, int]:
    """Return per person the missed deadlines (not exempt) of incidents they acknowledged or hold."""
    c = sla_clocks.c
    rows = conn.execute(
        select(inc.c.acknowledged_by, inc.c.assignee)
        .select_from(sla_clocks.join(inc, inc.c.id == c.incident_id))
        .where(
            *of_window(c.incident_id, inc), c.breached_at.is_not(None), c.breach_exempt.is_(False)
        )
    )
    found: dict[str, int] = {}
    for acknowledged_by, assignee in rows:
        for person in {acknowledged_by, assignee} - {None}:
            found[str(person)] = found.get(str(person), 0) + 1
    return found


def escalations_reaching(conn: Connection, inc: Table) -> dict[str, int]:
    """Return per person the escalation steps (not the first page) that named them."""
    found: dict[str, int] = {}
    rows = conn.execute(
        select(events.c.data).where(events.c.kind == "incident.escalated", *timeline_of(inc))
    )
    for (data,) in rows:
        data = data or {}
        if data.get("level") == 0:
            continue  # the first page is not an escalation
        for target in set(data.get("targets") or []):
            kind, _, name = str(target).partition(":")
            if kind == "person" and name:
                found[name] = found.get(name, 0) + 1
    return found


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
