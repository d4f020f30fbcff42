"""Incident JSON of the public contract, with SLA clocks, alerts and timeline read from the store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select

from tocsin.bridge.errors import NotFound
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.policy.model import CLOCKS, Calendar
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import alerts, events, incidents, sla_clocks
from tocsin.bridge.timers.clocks import MET, from_row, outcome
from tocsin.bridge.timers.clocks import remaining as time_left

# Built once: values travel as parameters, so SQLAlchemy reuses the compiled statements (a page
# serializes its incident, and pages go out in bursts).
_CLOCKS = select(sla_clocks).where(in_list(sla_clocks.c.incident_id, "ids"))
_ALERTS_OF = select(alerts).where(in_list(alerts.c.incident_id, "ids")).order_by(alerts.c.id)
_INCIDENTS = select(incidents).where(in_list(incidents.c.id, "ids"))
# Staff-only fields: the API (for signed-in staff) shows them, pages and webhooks never do.
PRIVATE_FIELDS = ("reporter_email", "reporter_language")
_TIMELINE = select(events).where(events.c.incident_id == bindparam("id")).order_by(events.c.id)


def without_private(incident: Mapping[str, Any]) -> dict[str, Any]:
    """Return incident JSON for on-call channels: the reporter's mail address left out."""
    return {key: value for key, value in incident.items() if key not in PRIVATE_FIELDS}


def get_incident(conn: Connection, incident_id: int) -> Row[Any]:
    """Return an incident row, or raise NotFound."""
    return incidents_by_id(conn, [incident_id])[incident_id]


def incident_json(
    conn: Connection,
    incident_id: int,
    now: datetime,
    *,
    detail: bool = True,
    calendars: Mapping[str, Calendar] | None = None,
) -> dict[str, Any]:
    """Return one incident as the API shows it; `detail` adds its alerts and timeline.

    `calendars` (the policy's) lets clocks on a business calendar count their time left in
    business seconds; a clock whose calendar is not given counts wall seconds.
    """
    row = get_incident(conn, incident_id)
    out = incidents_json(conn, [row], now, calendars)[0]
    if detail:
        out["alerts"] = alerts_json(conn, incident_id)
        out["timeline"] = timeline_json(conn, incident_id)
    return out


def incidents_json(
    conn: Connection,
    rows: Sequence[Row[Any]],
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
) -> list[dict[str, Any]]:
    """Return incident rows as JSON objects, reading all their SLA clocks in one query."""
    clocks: dict[int, dict[str, Any]] = {row.id: {} for row in rows}
    if rows:
        for clock in conn.execute(_CLOCKS, {"ids": list(clocks)}):
            calendar = (calendars or {}).get(clock.calendar or "")
            clocks[clock.incident_id][clock.clock] = clock_json(clock, now, calendar)
    return [_row_json(row, {name: clocks[row.id].get(name) for name in CLOCKS}) for row in rows]


def clock_json(clock: Row[Any], now: datetime, calendar: Calendar | None = None) -> dict[str, Any]:
    """Return one SLA clock: target, due time, time left (negative when overdue), breached.

    The time left is business time on the clock's calendar (given), wall time otherwise; the due
    time is always the instant. Once stopped, `outcome` says how it counts (met, breached or
    resolved_before_response) and `stopped_by` what stopped it; only a met clock has `met` true.
    """
    due = as_utc(clock.due_at) if clock.due_at is not None else None
    stopped = as_utc(clock.stopped_at) if clock.stopped_at is not None else None
    parsed = from_row(clock._mapping)
    left = time_left(parsed, calendar, now)
    remaining = None if left is None else left.total_seconds()
    breached = clock.breached_at is not None or (
        stopped is None and due is not None and due <= now and not clock.breach_exempt
    )
    ended = None if stopped is None else outcome(parsed, stopped)
    return {
        "target_seconds": clock.target_seconds,
        "due_at": rfc3339(due),
        "remaining_seconds": None if remaining is None else round(float(remaining), 3),
        "breached": breached,
        "paused": stopped is None and due is None,
        "met": ended == MET and not breached,
        "outcome": ended,
        "stopped_by": parsed.stopped_by,
        "calendar": clock.calendar,
    }


def alerts_json(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """Return an incident's alerts, oldest first."""
    return alerts_by_incident(conn, [incident_id])[incident_id]


def alerts_by_incident(conn: Connection, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Return the alerts of many incidents in one query, by incident id, each oldest first."""
    found: dict[int, list[dict[str, Any]]] = {incident_id: [] for incident_id in ids}
    for row in conn.execute(_ALERTS_OF, {"ids": list(found)}):
        found[int(row.incident_id)].append(_alert_json(row))
    return found


def incidents_by_id(
    conn: Connection, ids: Sequence[int], *, missing_ok: bool = False
) -> dict[int, Row[Any]]:
    """Return many incident rows in one query, by id; NotFound if one is missing (unless
    `missing_ok`: then those are left out)."""
    found = {int(row.id): row for row in conn.execute(_INCIDENTS, {"ids": list(set(ids))})}
    missing = sorted(set(ids) - set(found))
    if missing and not missing_ok:
        raise NotFound(f"no incident {missing[0]}")
    return found


def _alert_json(row: Row[Any]) -> dict[str, Any]:
    return {
        "fingerprint": row.fingerprint,
        "status": row.status,
        "labels": row.labels,
        "annotations": row.annotations,
        "starts_at": rfc3339(row.starts_at),
        "ends_at": rfc3339(row.ends_at),
        "generator_url": row.generator_url,
        "first_received_at": rfc3339(row.first_received_at),
        "last_received_at": rfc3339(row.last_received_at),
        "receive_count": row.receive_count,
    }


def timeline_json(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """Return an incident's events, oldest first."""
    rows = conn.execute(_TIMELINE, {"id": incident_id})
    return [
        {
            "id": row.id,
            "kind": row.kind,
            "actor": row.actor,
            "occurred_at": rfc3339(row.occurred_at),
            "data": row.data,
        }
        for row in rows
    ]


def _row_json(row: Row[Any], sla: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "key": row.key,
        "title": row.title,
        "title_edited_by": row.title_edited_by,
        "summary": row.summary,
        "description": row.description,
        "priority": row.priority,
        "status": row.status,
        "paused": bool(row.paused),
        "source": row.source,
        "service": row.service,
        "host": row.host,
        "team": row.team,
        "escalation_policy": row.escalation_policy,
        "escalation_level": row.escalation_level,
        "major": bool(row.major),
        "assignee": row.assignee,
        "reporter": row.reporter,
        "reporter_contact": row.reporter_contact,
        "reporter_email": row.reporter_email,
        "reporter_language": row.reporter_language,
        "report_type": row.report_type,
        "labels": row.labels,
        "annotations": row.annotations,
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
        "acknowledged_at": rfc3339(row.acknowledged_at),
        "acknowledged_by": row.acknowledged_by,
        "resolved_at": rfc3339(row.resolved_at),
        "resolved_by": row.resolved_by,
        "root_cause": row.root_cause,
        "solution": row.solution,
        "closed_at": rfc3339(row.closed_at),
        "closed_by": row.closed_by,
        "satisfaction": row.satisfaction,
        "satisfaction_by": row.satisfaction_by,
        "close_comment": row.close_comment,
        "sla": sla,
    }
