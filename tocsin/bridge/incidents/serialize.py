"""Incident JSON of the public contract, with SLA clocks, alerts and timeline read from the store."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Result, Row, bindparam, select

from tocsin.bridge.errors import NotFound
from tocsin.bridge.platform.clock import rfc3339
from tocsin.bridge.policy.model import CLOCKS, Calendar
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import alerts, events, incidents, sla_clocks
from tocsin.bridge.timers.clocks import MET, from_row, outcome
from tocsin.bridge.timers.clocks import remaining as time_left

# Built once: values travel as parameters, so SQLAlchemy reuses the compiled statements (a page
# serializes its incident, and pages go out in bursts).
_CLOCKS = select(sla_clocks).where(in_list(sla_clocks.c.incident_id, "ids"))
# An alert as pages and the API show it: these columns, in this order, times as RFC 3339.
_ALERT_FIELDS = ("fingerprint", "status", "labels", "annotations", "starts_at", "ends_at",
                 "generator_url", "first_received_at", "last_received_at", "receive_count")  # fmt: skip
_ALERT_TIMES = ("starts_at", "ends_at", "first_received_at", "last_received_at")
_ALERTS_OF = (
    select(alerts.c.incident_id, *(alerts.c[name] for name in _ALERT_FIELDS))
    .where(in_list(alerts.c.incident_id, "ids"))
    .order_by(alerts.c.id)
)
_INCIDENTS = select(incidents).where(in_list(incidents.c.id, "ids"))
# Staff-only fields: the API (for signed-in staff) shows them, pages and webhooks never do.
PRIVATE_FIELDS = ("reporter_email", "reporter_language")
_TIMELINE = select(events).where(events.c.incident_id == bindparam("id")).order_by(events.c.id)


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
    """Return incident rows (of one query) as JSON objects, reading their SLA clocks in one query."""
    clocks: dict[int, dict[str, Any]] = {row.id: {} for row in rows}
    if rows:
        for clock in _dicts(conn.execute(_CLOCKS, {"ids": list(clocks)})):
            calendar = (calendars or {}).get(clock["calendar"] or "")
            clocks[clock["incident_id"]][clock["clock"]] = clock_json(clock, now, calendar)
    names = rows[0]._fields if rows else ()
    return [
        _row_json(_values(names, row), {name: clocks[row.id].get(name) for name in CLOCKS})
        for row in rows
    ]


def clock_json(
    clock: Mapping[str, Any], now: datetime, calendar: Calendar | None = None
) -> dict[str, Any]:
    """Return one SLA clock (its sla_clocks row's values by column): target, due time, time left
    (negative when overdue), breached.

    The time left is business time on the clock's calendar (given), wall time otherwise; the due
    time is always the instant. Once stopped, `outcome` says how it counts (met, breached or
    resolved_before_response) and `stopped_by` what stopped it; only a met clock has `met` true.
    """
    parsed = from_row(clock)
    due, stopped = parsed.due_at, parsed.stopped_at
    left = time_left(parsed, calendar, now)
    remaining = None if left is None else left.total_seconds()
    breached = clock["breached_at"] is not None or (
        stopped is None and due is not None and due <= now and not clock["breach_exempt"]
    )
    ended = None if stopped is None else outcome(parsed, stopped)
    return {
        "target_seconds": clock["target_seconds"],
        "due_at": rfc3339(due),
        "remaining_seconds": None if remaining is None else round(float(remaining), 3),
        "breached": breached,
        "paused": stopped is None and due is None,
        "met": ended == MET and not breached,
        "outcome": ended,
        "stopped_by": parsed.stopped_by,
        "calendar": clock["calendar"],
    }


# Rows as dicts of their values by column: a dict lookup costs a quarter of a Row attribute's,
# and a Row's _fields are built anew on each call, so the names are taken once a query.
def _values(names: Sequence[str], row: Row[Any]) -> dict[str, Any]:
    if len(names) != len(row):  # not a row of the query the names came from
        names = row._fields
    return dict(zip(names, row, strict=True))


def _dicts(result: Result[Any]) -> Iterator[dict[str, Any]]:
    names = tuple(result.keys())
    return (dict(zip(names, row, strict=True)) for row in result)


def alerts_json(conn: Connection, incident_id: int) -> list[dict[str, Any]]:
    """Return an incident's alerts, oldest first."""
    return alerts_by_incident(conn, [incident_id])[incident_id]


def alerts_by_incident(conn: Connection, ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Return the alerts of many incidents in one query, by incident id, each oldest first."""
    found: dict[int, list[dict[str, Any]]] = {incident_id: [] for incident_id in ids}
    for incident_id, *values in conn.execute(_ALERTS_OF, {"ids": list(found)}):
        alert = dict(zip(_ALERT_FIELDS, values, strict=True))
        for name in _ALERT_TIMES:
            alert[name] = rfc3339(alert[name])
        found[int(incident_id)].append(alert)
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


def _row_json(raw: Mapping[str, Any], sla: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": raw["id"],
        "key": raw["key"],
        "title": raw["title"],
        "title_edited_by": raw["title_edited_by"],
        "summary": raw["summary"],
        "description": raw["description"],
        "priority": raw["priority"],
        "status": raw["status"],
        "paused": bool(raw["paused"]),
        "source": raw["source"],
        "service": raw["service"],
        "host": raw["host"],
        "team": raw["team"],
        "escalation_policy": raw["escalation_policy"],
        "escalation_level": raw["escalation_level"],
        "major": bool(raw["major"]),
        "assignee": raw["assignee"],
        "reporter": raw["reporter"],
        "reporter_contact": raw["reporter_contact"],
        "reporter_email": raw["reporter_email"],
        "reporter_language": raw["reporter_language"],
        "report_type": raw["report_type"],
        "labels": raw["labels"],
        "annotations": raw["annotations"],
        "created_at": rfc3339(raw["created_at"]),
        "updated_at": rfc3339(raw["updated_at"]),
        "acknowledged_at": rfc3339(raw["acknowledged_at"]),
        "acknowledged_by": raw["acknowledged_by"],
        "resolved_at": rfc3339(raw["resolved_at"]),
        "resolved_by": raw["resolved_by"],
        "root_cause": raw["root_cause"],
        "solution": raw["solution"],
        "closed_at": rfc3339(raw["closed_at"]),
        "closed_by": raw["closed_by"],
        "satisfaction": raw["satisfaction"],
        "satisfaction_by": raw["satisfaction_by"],
        "close_comment": raw["close_comment"],
        "sla": sla,
    }
