"""The follow-up: on the n-th working day after resolution, prompt closing with satisfaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from tocsin.bridge.incidents.events import EventHook, record_event
from tocsin.bridge.platform.clock import rfc3339
from tocsin.bridge.store.schema import incidents
from tocsin.bridge.timers.rows import Timer

KIND = "follow_up"


class FollowUp:
    """The follow_up timer handler: record incident.follow_up_due if still resolved, not closed."""

    def __init__(self, hooks: Sequence[EventHook]) -> None:
        self.hooks = hooks

    def __call__(self, conn: Connection, timer: Timer, now: datetime) -> None:
        if timer.incident_id is None:
            return
        status = conn.execute(
            select(incidents.c.status).where(incidents.c.id == timer.incident_id)
        ).scalar()
        if status != "resolved":
            return
        record_event(
            conn,
            self.hooks,
            incident_id=timer.incident_id,
            kind="incident.follow_up_due",
            actor=None,
            now=now,
            data={"due_at": rfc3339(timer.due_at), **timer.late_data()},
        )
