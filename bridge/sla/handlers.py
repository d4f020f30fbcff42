"""What due SLA and escalation timers do, run by the scheduler under the incident's row lock.

Each handler re-checks the incident and clock it acts on, because the row is the truth and the
timer only a reminder: a warning for a clock that was met, a step for an incident that was
acknowledged, or a breach of a clock that moved, does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, true, update

from bridge.clock import rfc3339
from bridge.escalation import Step, may_page, resolution_step, response_step
from bridge.events import EventHook, record_event
from bridge.oncall import Reach, reach
from bridge.paging import Pager
from bridge.policy.model import Policy
from bridge.sla.clocks import SlaClock
from bridge.sla.hook import base_time, load_clocks, save_clock
from bridge.sla.metrics import SlaMetrics
from bridge.store.schema import incidents, sla_clocks
from bridge.timers import Timer, TimerHandler, schedule

log = logging.getLogger(__name__)
OPEN = ("triggered", "acknowledged")

# Built once with bound parameters so SQLAlchemy compiles each statement once, not per timer.
_INCIDENT = select(incidents).where(incidents.c.id == bindparam("incident_id"))
_EXEMPT = select(sla_clocks.c.breach_exempt).where(
    sla_clocks.c.incident_id == bindparam("incident_id"), sla_clocks.c.clock == bindparam("name")
)
_ESCALATE = (
    update(incidents)
    .where(incidents.c.id == bindparam("incident_id"))
    .values(escalation_level=bindparam("level"), updated_at=bindparam("now"))
)
_ESCALATE_MAJOR = _ESCALATE.values(major=true())


def warn_unreached(incident_id: int, step: Step, found: Reach) -> None:
    """Log the targets of a step that reach nobody now (the event records them as unreached)."""
    if found.unreached:
        log.warning(
            "incident %s: %s step %s reaches nobody for %s (nobody on call, no team to fall back on)",
            incident_id,
            step.path,
            step.index,
            ", ".join(str(t) for t in found.unreached),
        )


@dataclass
class SlaHandlers:
    """The timer handlers of the SLA engine, bound to the runtime's policy, hooks and pager."""

    policy: Callable[[], Policy]
    hooks: Sequence[EventHook]
    pager: Callable[[], Pager | None]
    metrics: SlaMetrics
    wake: Callable[[datetime], None] | None = None

    def table(self) -> dict[str, TimerHandler]:
        """Return the handlers by timer kind, for the Scheduler."""
        return {
            "sla_warning": self.warning,
            "sla_breach": self.breach,
            "escalation": self.escalation,
            "resolution_step": self.resolution,
        }

    def _incident(self, conn: Connection, timer: Timer) -> Any:
        if timer.incident_id is None:
            return None
        return conn.execute(_INCIDENT, {"incident_id": timer.incident_id}).first()

    def _running_clock(self, conn: Connection, timer: Timer) -> tuple[Any, SlaClock] | None:
        """Return the open incident and the still-running clock an SLA timer is about."""
        row = self._incident(conn, timer)
        clock = load_clocks(conn, row.id).get(timer.subject or "") if row else None
        if row is None or clock is None or row.status not in OPEN or not clock.running:
            return None
        return row, clock

    def warning(self, conn: Connection, timer: Timer, now: datetime) -> None:
        """Record incident.sla_warning once a running clock passes its warning point."""
        found = self._running_clock(conn, timer)
        if found is None:
            return
        row, clock = found
        if clock.warned_at is not None or clock.warn_at is None or clock.warn_at > now:
            return
        save_clock(conn, row.id, replace(clock, warned_at=now))
        data = {"sla": clock.name, "due_at": rfc3339(clock.due_at), **timer.late_data()}
        record_event(
            conn,
            self.hooks,
            incident_id=row.id,
            kind="incident.sla_warning",
            actor=None,
            now=now,
            data=data,
        )

    def breach(self, conn: Connection, timer: Timer, now: datetime) -> None:
        """Record incident.sla_breached once a running clock passes its due time."""
        found = self._running_clock(conn, timer)
        if found is None:
            return
        row, clock = found
        if clock.breached_at is not None or clock.due_at is None or clock.due_at > now:
            return
        exempt = conn.execute(_EXEMPT, {"incident_id": row.id, "name": clock.name}).scalar()
        if exempt:
            return
        save_clock(conn, row.id, replace(clock, breached_at=now))
        self.metrics.clock_ended(row.priority, clock.name, "breached")
        data = {"sla": clock.name, "due_at": rfc3339(clock.due_at), **timer.late_data()}
        record_event(
            conn,
            self.hooks,
            incident_id=row.id,
            kind="incident.sla_breached",
            actor=None,
            now=now,
            data=data,
        )

    def escalation(self, conn: Connection, timer: Timer, now: datetime) -> None:
        """Page a response step while nobody has acknowledged, then schedule the next one."""
        row = self._incident(conn, timer)
        policy = self.policy()
        escalation = policy.escalation_policies.get(row.escalation_policy or "") if row else None
        step = response_step(escalation, int(timer.payload.get("step", 0))) if escalation else None
        if row is None or step is None or not may_page(step, row.status, bool(row.paused)):
            return
        self._page(conn, policy, row, step, timer, now)
        following = response_step(escalation, step.index + 1) if escalation else None
        # After an outage, repeats already in the past would page in a burst: skip to the next.
        while (
            escalation is not None
            and following is not None
            and following.index >= len(escalation.steps)
            and base_time(row) + following.after <= now
        ):
            following = response_step(escalation, following.index + 1)
        if following is not None:
            self._next(conn, row, "escalation", "response", following, now)

    def resolution(self, conn: Connection, timer: Timer, now: datetime) -> None:
        """Engage the next level (expert, major) while the incident stays unresolved."""
        row = self._incident(conn, timer)
        policy = self.policy()
        escalation = policy.escalation_policies.get(row.escalation_policy or "") if row else None
        index = int(timer.payload.get("step", 0))
        step = resolution_step(escalation, index, row.priority) if escalation and row else None
        if row is None or step is None or not may_page(step, row.status, bool(row.paused)):
            return
        self._page(conn, policy, row, step, timer, now, major=step.major)
        following = (
            resolution_step(escalation, step.index + 1, row.priority) if escalation else None
        )
        if following is not None:
            self._next(conn, row, "resolution_step", "resolution", following, now)

    def _page(
        self,
        conn: Connection,
        policy: Policy,
        row: Any,
        step: Step,
        timer: Timer,
        now: datetime,
        *,
        major: bool = False,
    ) -> None:
        found = reach(policy, step.notify, now)
        warn_unreached(row.id, step, found)
        level = max(int(row.escalation_level or 0), step.rank)
        conn.execute(
            _ESCALATE_MAJOR if major else _ESCALATE,
            {"incident_id": row.id, "level": level, "now": now},
        )
        event = record_event(
            conn,
            self.hooks,
            incident_id=row.id,
            kind="incident.escalated",
            actor=None,
            now=now,
            data={**step.event_data(found.targets, found.unreached), **timer.late_data()},
        )
        self.metrics.escalations.labels(priority=row.priority).inc()
        pager = self.pager()
        if pager is None:
            log.warning(
                "incident %s: no pager configured; step %s paged nobody", row.id, step.index
            )
        elif found.targets:
            pager.page(conn, incident_id=row.id, event_id=event.id, targets=found.targets, now=now)

    def _next(
        self, conn: Connection, row: Any, kind: str, subject: str, step: Step, now: datetime
    ) -> None:
        due = base_time(row) + step.after
        schedule(
            conn,
            kind,
            due,
            now=now,
            incident_id=row.id,
            subject=subject,
            payload={"step": step.index},
        )
        if self.wake is not None:
            self.wake(due)
