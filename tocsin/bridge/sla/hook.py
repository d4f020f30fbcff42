"""The SLA EventHook: keep an incident's clocks and timers in step with its events.

It runs inside the transaction that records each event, so clocks, timers and the change
commit together. triggered starts the clocks and the escalation paths; acknowledged meets the
response clock and ends the response path; a first contact the service desk records meets the
response clock too (paging goes on until someone acknowledges); a note restarts the update clock; pause holds every
clock and parks the timers, resume gives them back exactly the time they had left; resolved
stops everything and schedules the follow-up; closed cancels whatever is left.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import Connection, Select, bindparam, select, update

from tocsin.bridge.incidents.events import Event, public_update
from tocsin.bridge.paging.escalation import Step, resolution_step, response_step
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import Calendar, EscalationPolicy, Policy
from tocsin.bridge.sla.metrics import SlaMetrics
from tocsin.bridge.sla.paging_hours import step_due
from tocsin.bridge.store.bulk import insert_rows
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import incidents, sla_clocks
from tocsin.bridge.timers import calendar as business
from tocsin.bridge.timers import clocks
from tocsin.bridge.timers.clocks import SlaClock
from tocsin.bridge.timers.rows import (
    PARKED,
    cancel,
    move,
    pending,
    schedule,
    schedule_many,
    timer_row,
)

SLA_KINDS = ("sla_warning", "sla_breach")
ESCALATION_KINDS = ("escalation", "resolution_step")
FOLLOW_UP = "follow_up"
OPEN = ("triggered", "acknowledged")
Wake = Callable[[datetime], None]


# Built once: values travel as parameters, so SQLAlchemy reuses the compiled statements.
_INCIDENT = select(incidents).where(incidents.c.id == bindparam("incident_id"))
# What starting clocks needs of new incidents: not their labels and annotations (JSON to decode).
_NEW_INCIDENTS = select(
    incidents.c.id,
    incidents.c.priority,
    incidents.c.escalation_policy,
    incidents.c.created_at,
    incidents.c.paused_seconds,
).where(in_list(incidents.c.id, "ids"))


def clock_timer_rows(
    incident_id: int | None, clock: SlaClock, now: datetime
) -> list[dict[str, Any]]:
    """Return the one timer a running clock needs next: its warning while owed, else its breach.

    One at a time: the warning's handler schedules the breach once it fired (SlaHandlers), so
    a new incident writes one timer per clock instead of two.
    """
    if not clock.running:
        return []
    if clock.warn_at is not None and clock.warned_at is None:
        return [
            timer_row(
                "sla_warning", clock.warn_at, now=now, incident_id=incident_id, subject=clock.name
            )
        ]
    if clock.due_at is not None and clock.breached_at is None:
        return [
            timer_row(
                "sla_breach", clock.due_at, now=now, incident_id=incident_id, subject=clock.name
            )
        ]
    return []


def opened_rows(conn: Connection, events: Sequence[Event], query: Select[Any]) -> dict[int, Any]:
    """Return the incident rows of incident.triggered events by id: the rows they carry, if all
    do (see Event.opened), else read with `query` (which takes the ids as "ids")."""
    if all(event.opened is not None for event in events):
        return {event.incident_id: event.opened for event in events}
    rows = conn.execute(query, {"ids": [event.incident_id for event in events]})
    return {int(row.id): row for row in rows}


def load_clocks(conn: Connection, incident_id: int) -> dict[str, SlaClock]:
    """Return an incident's clocks by name."""
    rows = conn.execute(select(sla_clocks).where(sla_clocks.c.incident_id == incident_id))
    return {row.clock: clocks.from_row(row._mapping) for row in rows}


def save_clock(conn: Connection, incident_id: int, clock: SlaClock) -> None:
    """Write a changed clock back to its row."""
    conn.execute(
        update(sla_clocks)
        .where(sla_clocks.c.incident_id == incident_id, sla_clocks.c.clock == clock.name)
        .values(**clocks.to_row(clock))
    )


@dataclass(frozen=True)
class _Started:
    """The clock rows and timer rows (no incident id) of incidents that start alike."""

    clocks: list[dict[str, Any]]
    timers: list[dict[str, Any]]


def pages_at_once(
    policy: Policy, escalation: EscalationPolicy, row: Any, step: Step, now: datetime
) -> bool:
    """Return whether a step is due as its incident opens (`after: 0m`): paged then, no timer."""
    return step_due(policy, escalation, row, step) <= now


class SlaHook:
    """Start, stop, pause, resume and restart clocks; schedule and cancel their timers."""

    def __init__(
        self,
        policy: Callable[[], Policy],
        *,
        metrics: SlaMetrics | None = None,
        wake: Wake | None = None,
        first_step_paged: bool = False,
    ) -> None:
        self.policy = policy
        self.metrics = metrics or SlaMetrics()
        self.wake = wake
        # Set when tocsin.bridge.sla.first_step pages a step due at once: no timer is scheduled for it.
        self.first_step_paged = first_step_paged
        self._actions: dict[str, Callable[[Connection, Any, datetime], None]] = {
            "incident.triggered": self._triggered,
            "incident.acknowledged": self._acknowledged,
            "incident.first_contact": self._first_contact,
            "incident.note_added": self._note_added,
            "incident.paused": self._paused,
            "incident.resumed": self._resumed,
            "incident.resolved": self._resolved,
            "incident.closed": self._closed,
            "incident.reopened": self._reopened,
        }

    def __call__(self, conn: Connection, event: Event) -> None:
        action = self._actions.get(event.kind)
        if action is None:
            return
        if event.kind == "incident.note_added" and not public_update(event.data):
            return  # an internal note tells the reporter nothing: the update clock runs on
        if event.kind == "incident.resolved":
            # A person who resolves has responded; the sender's own resolution is no response.
            action = partial(self._resolved, by="person_resolved" if event.actor else "resolved")
        row = event.opened
        if row is None:
            row = conn.execute(_INCIDENT, {"incident_id": event.incident_id}).first()
        if row is not None:
            action(conn, row, as_utc(event.occurred_at))

    def many(self, conn: Connection, events: Sequence[Event]) -> None:
        """Hear a batch of events: new incidents start their clocks and timers in bulk."""
        if any(event.kind != "incident.triggered" for event in events):
            for event in events:
                self(conn, event)
            return
        by_id = opened_rows(conn, events, _NEW_INCIDENTS)
        clock_rows: list[dict[str, Any]] = []
        timer_rows: list[dict[str, Any]] = []
        started: dict[tuple[Any, ...], _Started] = {}
        for event in events:
            row = by_id.get(event.incident_id)
            if row is not None:
                self._start(row, as_utc(event.occurred_at), clock_rows, timer_rows, started)
        self._insert(conn, clock_rows, timer_rows)

    def _calendar(self, priority: str) -> Calendar | None:
        policy = self.policy()
        return policy.calendar_for(priority) if priority in policy.priorities else None

    def _warn_fraction(self, priority: str) -> float:
        found = self.policy().priorities.get(priority)
        return found.warn_at if found else 0.67

    def _schedule(
        self, conn: Connection, kind: str, due: datetime, now: datetime, **kw: Any
    ) -> None:
        schedule(conn, kind, due, now=now, **kw)
        if self.wake is not None:
            self.wake(due)

    def _clock_timers(
        self, conn: Connection, incident_id: int, clock: SlaClock, now: datetime
    ) -> None:
        rows = clock_timer_rows(incident_id, clock, now)
        schedule_many(conn, rows)
        if rows and self.wake is not None:
            self.wake(min(timer["due_at"] for timer in rows))

    def _end(self, row: Any, clock: SlaClock, now: datetime, by: str) -> SlaClock:
        stopped = clocks.stop(clock, now, by)
        # A breach was counted when it fired; count only the promises kept (or left unanswered).
        if clock.stopped_at is None and clock.breached_at is None:
            self.metrics.clock_ended(row.priority, clock.name, clocks.outcome(stopped, now))
        return stopped

    def _triggered(self, conn: Connection, row: Any, now: datetime) -> None:
        clock_rows: list[dict[str, Any]] = []
        timer_rows: list[dict[str, Any]] = []
        self._start(row, now, clock_rows, timer_rows, {})
        self._insert(conn, clock_rows, timer_rows)

    def _insert(
        self, conn: Connection, clock_rows: list[dict[str, Any]], timer_rows: list[dict[str, Any]]
    ) -> None:
        # One statement per table (tocsin.bridge.store.bulk), however many incidents opened together.
        insert_rows(conn, sla_clocks, clock_rows)
        schedule_many(conn, timer_rows)
        if timer_rows and self.wake is not None:
            self.wake(min(timer["due_at"] for timer in timer_rows))

    def _start(
        self,
        row: Any,
        now: datetime,
        clock_rows: list[dict[str, Any]],
        timer_rows: list[dict[str, Any]],
        started: dict[tuple[Any, ...], _Started],
    ) -> None:
        """Compute a new incident's clock rows and timers, in one pass and without I/O.

        Incidents opened at one instant with one priority and escalation policy start the same
        clocks and timers: computed once for them all, each incident adds its own id.
        """
        key = (row.priority, row.escalation_policy, now, row.created_at, row.paused_seconds)
        found = started.get(key)
        if found is None:
            found = started[key] = self._started(row, now)
        clock_rows.extend({"incident_id": row.id, **values} for values in found.clocks)
        timer_rows.extend({**values, "incident_id": row.id} for values in found.timers)

    def _started(self, row: Any, now: datetime) -> _Started:
        """Return the clock rows and timer rows (no incident id) a new incident starts."""
        policy = self.policy()
        clock_rows: list[dict[str, Any]] = []
        timer_rows: list[dict[str, Any]] = []
        priority = policy.priorities.get(row.priority)
        if priority is not None:
            begun = clocks.start_clocks(priority, self._calendar(row.priority), now)
            clock_rows = [clocks.to_row(clock) for clock in begun]
            timer_rows = [timer for clock in begun for timer in clock_timer_rows(None, clock, now)]
        escalation = policy.escalation_policies.get(row.escalation_policy or "")
        if escalation is None:
            return _Started(clock_rows, timer_rows)
        first = response_step(escalation, 0)
        if first is not None and not (
            self.first_step_paged and pages_at_once(policy, escalation, row, first, now)
        ):
            timer_rows.append(
                timer_row(
                    "escalation",
                    step_due(policy, escalation, row, first),
                    now=now,
                    subject="response",
                    payload={"step": 0},
                )
            )
        engaged = resolution_step(escalation, 0, row.priority)
        if engaged is not None:
            timer_rows.append(
                timer_row(
                    "resolution_step",
                    step_due(policy, escalation, row, engaged),
                    now=now,
                    subject="resolution",
                    payload={"step": engaged.index},
                )
            )
        return _Started(clock_rows, timer_rows)

    def _responded(self, conn: Connection, row: Any, now: datetime, by: str) -> None:
        response = load_clocks(conn, row.id).get("response")
        if response is not None and response.stopped_at is None:
            save_clock(conn, row.id, self._end(row, response, now, by))
        cancel(conn, incident_id=row.id, kinds=SLA_KINDS, subject="response")

    def _acknowledged(self, conn: Connection, row: Any, now: datetime) -> None:
        self._responded(conn, row, now, "acknowledged")
        cancel(conn, incident_id=row.id, kinds=("escalation",))

    def _first_contact(self, conn: Connection, row: Any, now: datetime) -> None:
        self._responded(conn, row, now, "first_contact")

    def _note_added(self, conn: Connection, row: Any, now: datetime) -> None:
        update_clock = load_clocks(conn, row.id).get("update")
        if update_clock is None or row.status not in OPEN or update_clock.stopped_at is not None:
            return
        if update_clock.breached_at is None and not update_clock.paused:
            self.metrics.clock_ended(row.priority, "update", clocks.outcome(update_clock, now))
        cal = self._calendar(row.priority)
        fresh = clocks.restart(update_clock, cal, self._warn_fraction(row.priority), now)
        save_clock(conn, row.id, fresh)
        cancel(conn, incident_id=row.id, kinds=SLA_KINDS, subject="update")
        self._clock_timers(conn, row.id, fresh, now)

    def _paused(self, conn: Connection, row: Any, now: datetime) -> None:
        cal = self._calendar(row.priority)
        for clock in load_clocks(conn, row.id).values():
            save_clock(conn, row.id, clocks.pause(clock, cal, now))
        cancel(conn, incident_id=row.id, kinds=SLA_KINDS)
        for timer in pending(conn, incident_id=row.id, kinds=ESCALATION_KINDS):
            if timer.due_at < PARKED:
                left = max(0.0, (timer.due_at - now).total_seconds())
                move(conn, timer.id, PARKED, {**timer.payload, "parked_seconds": left})

    def _resumed(self, conn: Connection, row: Any, now: datetime) -> None:
        cal = self._calendar(row.priority)
        fraction = self._warn_fraction(row.priority)
        cancel(conn, incident_id=row.id, kinds=SLA_KINDS)
        for clock in load_clocks(conn, row.id).values():
            resumed = clocks.resume(clock, cal, fraction, now)
            save_clock(conn, row.id, resumed)
            self._clock_timers(conn, row.id, resumed, now)
        for timer in pending(conn, incident_id=row.id, kinds=ESCALATION_KINDS):
            if timer.due_at >= PARKED:
                payload = {k: v for k, v in timer.payload.items() if k != "parked_seconds"}
                due = now + timedelta(seconds=float(timer.payload.get("parked_seconds", 0.0)))
                move(conn, timer.id, due, payload)
                if self.wake is not None:
                    self.wake(due)

    def _resolved(self, conn: Connection, row: Any, now: datetime, by: str = "resolved") -> None:
        for clock in load_clocks(conn, row.id).values():
            if clock.stopped_at is None:
                save_clock(conn, row.id, self._end(row, clock, now, by))
        cancel(conn, incident_id=row.id)
        follow_up = self.policy().follow_up
        cal = self.policy().calendars.get(follow_up.calendar or "")
        due = business.nth_working_day(cal, now, follow_up.working_days)
        self._schedule(conn, FOLLOW_UP, due, now, incident_id=row.id, subject="follow_up")

    def _reopened(self, conn: Connection, row: Any, now: datetime) -> None:
        # The resolution clock runs on to its old due time (a breach stays a breach); so does an
        # unmet response clock; the update clock starts a new cycle.
        cal = self._calendar(row.priority)
        fraction = self._warn_fraction(row.priority)
        cancel(conn, incident_id=row.id, kinds=(FOLLOW_UP,))
        for clock in load_clocks(conn, row.id).values():
            if clock.name == "response" and row.acknowledged_at is not None:
                continue
            if clock.name == "update":
                again = clocks.restart(clock, cal, fraction, now)
            else:
                again = clocks.reopen(clock, cal, fraction, now)
            save_clock(conn, row.id, again)
            self._clock_timers(conn, row.id, again, now)

    def _closed(self, conn: Connection, row: Any, now: datetime) -> None:
        cancel(conn, incident_id=row.id)
