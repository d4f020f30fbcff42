"""Incidents whose alert's text changed on a resend take its new title, and say so in the timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, update

from tocsin.bridge.incidents.events import EventHook, NewEvent, record_events
from tocsin.bridge.store.schema import incidents


@dataclass(frozen=True)
class Retitle:
    """An open incident whose alert's text changed: its new title, summary and description."""

    incident_id: int
    previous: str
    title: str
    summary: str
    description: str


# Only while the title is still the one the alert gave it: a person's edit (even one committed
# by another replica meanwhile) wins, and two replicas applying one resend record one change.
_FOLLOW = (
    update(incidents)
    .where(
        incidents.c.id == bindparam("_id"),
        incidents.c.title == bindparam("_previous"),
        incidents.c.title_edited_by.is_(None),
    )
    .values(
        title=bindparam("_title"),
        summary=bindparam("_summary"),
        description=bindparam("_description"),
        updated_at=bindparam("_now"),
    )
)


def follow_alert_text(
    conn: Connection, hooks: Sequence[EventHook], changes: Sequence[Retitle], now: datetime
) -> int:
    """Retitle incidents whose alert's text changed and record it in each timeline."""
    recorded: list[NewEvent] = []
    for change in changes:
        params = {
            "_id": change.incident_id,
            "_previous": change.previous,
            "_title": change.title,
            "_summary": change.summary,
            "_description": change.description,
            "_now": now,
        }
        if conn.execute(_FOLLOW, params).rowcount:
            data = {"title": change.title, "previous": change.previous, "source": "alert"}
            recorded.append(NewEvent(change.incident_id, "incident.retitled", None, now, data))
    record_events(conn, hooks, recorded)
    return len(recorded)
