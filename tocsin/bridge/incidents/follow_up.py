"""The follow-up: on the n-th working day after resolution, prompt closing with satisfaction.

An incident its sender resolved before anyone responded has no root cause from a person: its
follow-up asks for one (`ask_root_cause`), so a fault that cleared itself is still understood.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, select

from tocsin.bridge.incidents.events import EventHook, record_event
from tocsin.bridge.platform.clock import rfc3339
from tocsin.bridge.store.schema import incidents, sla_clocks
from tocsin.bridge.timers.rows import Timer

KIND = "follow_up"


class FollowUp:
    """The follow_up timer handler: record incident.follow_up_due if still resolved, not closed."""

    def __init__(self, hooks: Sequence[EventHook]) -> None:
        self.hooks = hooks

    def __call__(self, conn: Connection, timer: Timer, now: datetime) -> None:
        if timer.incident_id is None:
            return
        row = conn.execute(
            select(incidents.c.status, incidents.c.root_cause).where(
                incidents.c.id == timer.incident_id
            )
        ).first()
        if row is None or row.status != "resolved":
            return
        unanswered = conn.execute(
            select(sla_clocks.c.stopped_by).where(
                sla_clocks.c.incident_id == timer.incident_id, sla_clocks.c.clock == "response"
            )
        ).first()
        ask = not row.root_cause and unanswered is not None and unanswered.stopped_by == "resolved"
        record_event(
            conn,
            self.hooks,
            incident_id=timer.incident_id,
            kind="incident.follow_up_due",
            actor=None,
            now=now,
            data={
                "due_at": rfc3339(timer.due_at),
                **({"ask_root_cause": True} if ask else {}),
                **timer.late_data(),
            },
        )
