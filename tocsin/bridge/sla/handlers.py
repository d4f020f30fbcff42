"""What due SLA and escalation timers do, run by the scheduler under the incident's row lock.

Each handler re-checks the incident and clock it acts on, because the row is the truth and the
timer only a reminder: a warning for a clock that was met, a step for an incident that was
acknowledged, or a breach of a clock that moved, does nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, false, select, true, update

from tocsin.bridge.incidents.events import Event, EventHook, NewEvent, record_events
from tocsin.bridge.paging.audience import sla_audience
from tocsin.bridge.paging.escalation import Step, catch_up, may_page, resolution_step, response_step
from tocsin.bridge.paging.oncall import Reach
from tocsin.bridge.paging.pager import Pager
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.policy.model import Policy, Target
from tocsin.bridge.sla.hook import clock_timer_rows, opened_rows, pages_at_once
from tocsin.bridge.sla.metrics import SlaMetrics
from tocsin.bridge.sla.paging_hours import step_due
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import incidents, sla_clocks
from tocsin.bridge.timers import clocks
from tocsin.bridge.timers.clocks import SlaClock
from tocsin.bridge.timers.rows import Batched, Timer, TimerHandler, schedule_many, timer_row

log = logging.getLogger(__name__)
OPEN = ("triggered", "acknowledged")

# Built once with bound parameters so SQLAlchemy compiles each statement once, not per timer.
# What firing steps and clocks reads of incidents: not labels and annotations (JSON to decode).
_FIELDS = select(
    incidents.c.id,
    incidents.c.status,
    incidents.c.paused,
    incidents.c.priority,
    incidents.c.escalation_policy,
    incidents.c.escalation_level,
    incidents.c.created_at,
    incidents.c.updated_at,
    incidents.c.paused_seconds,
    incidents.c.assignee,
    incidents.c.acknowledged_by,
)
_ONE = _FIELDS.where(incidents.c.id == bindparam("incident_id"))
_MANY = _FIELDS.where(in_list(incidents.c.id, "ids"))
# Incidents reaching one level move in one statement (an executemany costs a round trip a row).
_ESCALATE = (
    update(incidents)
    .where(in_list(incidents.c.id, "ids"))
    .values(escalation_level=bindparam("level"), updated_at=bindparam("now"))
)
_ESCALATE_MAJOR = _ESCALATE.values(major=true())
_CLOCKS = select(sla_clocks).where(in_list(sla_clocks.c.incident_id, "ids"))
_STAMP = update(sla_clocks).where(
    sla_clocks.c.clock == bindparam("name"),
    in_list(sla_clocks.c.incident_id, "ids"),
)
_WARNED = _STAMP.values(warned_at=bindparam("at"))
_WARNED_RESET = _WARNED.values(breach_reason=None, breach_exempt=false())
_BREACHED = _STAMP.values(breached_at=bindparam("at"))


def warn_unreached(
    incident_id: int, step: Step, found: Reach, metrics: SlaMetrics, priority: str
) -> None:
    """Log and count the targets of a step that reach nobody now (the event records them too)."""
    if not found.unreached:
        return
    metrics.unreached.labels(priority=priority).inc(len(found.unreached))
    paged = ", ".join(str(t) for t in found.targets) or "nobody"
    log.warning(
        "incident %s: %s step %s reached nobody for %s; paged %s%s",
        incident_id,
        step.path,
        step.index,
        found.event_data()["unreached_reason"],
        paged,
        " (the step's fallback)" if found.fallback else "",
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
            "sla_warning": Batched(self.warning, self.warning_many),
            "sla_breach": Batched(self.breach, self.breach_many),
            "escalation": Batched(self.escalation, self.escalation_many),
            "resolution_step": Batched(self.resolution, self.resolution_many),
        }

    def warning(self, conn: Connection, timer: Timer, now: datetime) -> None:
        """Record incident.sla_warning once a running clock passes its warning point."""
        self.warning_many(conn, [timer], now)

    def breach(self, conn: Connection, timer: Timer, now: datetime) -> None:
        """Record incident.sla_breached once a running clock passes its due time."""
        self.breach_many(conn, [timer], now)

    def warning_many(self, conn: Connection, batch: Sequence[Timer], now: datetime) -> None:
        """Record the warnings of clocks of distinct incidents: one statement per table."""
        running = self._running_clocks(conn, batch)
        due = [c for c in running if _warns(c.clock, now)]
        groups: dict[tuple[str, bool], list[int]] = {}
        for item in due:
            # As save_clock does: a clock not breached has its breach reason cleared.
            groups.setdefault((item.clock.name, item.clock.breached_at is None), []).append(
                item.row.id
            )
        for (name, reset), ids in groups.items():
            statement = _WARNED_RESET if reset else _WARNED
            conn.execute(statement, {"name": name, "ids": ids, "at": now})
        self._record(conn, "incident.sla_warning", due, now)
        # Each clock's next timer, its breach: scheduled only now (see clock_timer_rows).
        warned = {id(item) for item in due}
        self._schedule(
            conn,
            [
                row
                for item in running
                for row in clock_timer_rows(
                    item.row.id,
                    replace(item.clock, warned_at=now) if id(item) in warned else item.clock,
                    now,
                )
            ],
        )

    def breach_many(self, conn: Connection, batch: Sequence[Timer], now: datetime) -> None:
        """Record the breaches of clocks of distinct incidents: one statement per table."""
        found = self._running_clocks(conn, batch)
        due = [c for c in found if _breaches(c.clock, now) and not c.exempt]
        groups: dict[str, list[int]] = {}
        for item in due:
            groups.setdefault(item.clock.name, []).append(item.row.id)
        for name, ids in groups.items():
            conn.execute(_BREACHED, {"name": name, "ids": ids, "at": now})
        for item in due:
            self.metrics.clock_ended(item.row.priority, item.clock.name, "breached")
        self._record(conn, "incident.sla_breached", due, now)

    def _running_clocks(self, conn: Connection, batch: Sequence[Timer]) -> list[_Running]:
        """Return, per timer, its open incident and still-running clock; skip the others."""
        rows = self._incidents(conn, [t.incident_id for t in batch])
        ids = list(rows)
        found = conn.execute(_CLOCKS, {"ids": ids}).all() if ids else []
        by_key = {(int(r.incident_id), r.clock): r for r in found}
        running = []
        for timer in batch:
            row = rows.get(timer.incident_id)
            if row is None or row.status not in OPEN:
                continue
            clock_row = by_key.get((int(row.id), timer.subject or ""))
            if clock_row is None:
                continue
            clock = clocks.from_row(clock_row._mapping)
            if clock.running:
                running.append(_Running(row, clock, bool(clock_row.breach_exempt), timer))
        return running

    def _record(self, conn: Connection, kind: str, due: Sequence[_Running], now: datetime) -> None:
        """Record one event of `kind` per clock and page whom the policy's sla_notify names."""
        policy = self.policy()
        heard = [sla_audience(policy, item.row, kind, now) for item in due]
        recorded = record_events(
            conn,
            self.hooks,
            [
                NewEvent(
                    item.row.id,
                    kind,
                    None,
                    now,
                    {
                        "sla": item.clock.name,
                        "due_at": rfc3339(item.clock.due_at),
                        **item.timer.late_data(),
                        **(_heard_data(found) if found is not None else {}),
                    },
                )
                for item, found in zip(due, heard, strict=True)
            ],
        )
        pages = []
        for item, found, event in zip(due, heard, recorded, strict=True):
            if found is None:
                continue
            if not found.targets or found.unreached:
                self.metrics.unreached.labels(priority=item.row.priority).inc(
                    len(found.unreached) or 1
                )
                log.warning("incident %s: %s reached nobody for %s", item.row.id, kind,
                            found.event_data().get("unreached_reason") or "nobody named is set")  # fmt: skip
            if found.targets:
                pages.append((int(item.row.id), event.id, found.targets))
        self._page(pages, conn, now)

    def escalation(self, conn: Connection, timer: Timer, now: datetime) -> None:
        """Page a response step while nobody has acknowledged, then schedule the next one."""
        self.escalation_many(conn, [timer], now)

    def escalation_many(self, conn: Connection, batch: Sequence[Timer], now: datetime) -> None:
        """Fire response steps of distinct incidents: one statement per table, not per timer."""
        policy = self.policy()
        rows = self._incidents(conn, [t.incident_id for t in batch])
        due = [
            self._response(
                policy, rows.get(t.incident_id), int(t.payload.get("step", 0)), t.late_data(), now
            )
            for t in self._in_hours(conn, policy, batch, rows, now)
        ]
        self._fire(conn, policy, [d for d in due if d is not None], now)

    def _in_hours(
        self,
        conn: Connection,
        policy: Policy,
        batch: Sequence[Timer],
        rows: Mapping[int | None, Any],
        now: datetime,
    ) -> list[Timer]:
        """Return the timers whose step may page now; move the others to their paging hours.

        A step that follows a calendar is due `after` working time from the opening; a timer that
        fell due before that (set before a policy change, or moved by a resume) waits for it.
        """
        ready, later = [], []
        for timer in batch:
            row = rows.get(timer.incident_id)
            due = _paging_due(policy, row, timer) if row is not None else None
            if due is None or due <= now:
                ready.append(timer)
                continue
            later.append(
                timer_row(
                    timer.kind,
                    due,
                    now=now,
                    incident_id=timer.incident_id,
                    subject=timer.subject,
                    payload=dict(timer.payload),
                )
            )
        self._schedule(conn, later)
        return ready

    def first_steps(self, conn: Connection, opened: Sequence[Event]) -> None:
        """Page the first response step of incidents just opened, when it is due at once."""
        policy = self.policy()
        for now, due in self._first_due(conn, policy, opened).items():
            self._fire(conn, policy, due, now)

    def first_step_timers(self, conn: Connection, opened: Sequence[Event]) -> None:
        """Leave the first steps first_steps() would page to the scheduler, as timers due now."""
        policy = self.policy()
        due = self._first_due(conn, policy, opened)
        self._schedule(
            conn,
            [
                timer_row(
                    "escalation",
                    _due(policy, item.row, item.step),
                    now=now,
                    incident_id=item.row.id,
                    subject="response",
                    payload={"step": item.step.index},
                )
                for now, items in due.items()
                for item in items
            ],
        )

    def _first_due(
        self, conn: Connection, policy: Policy, opened: Sequence[Event]
    ) -> dict[datetime, list[_Due]]:
        """Return the first steps due at once of the incidents opened, by opening time."""
        rows = opened_rows(conn, opened, _MANY)
        by_time: dict[datetime, list[_Due]] = {}
        firsts: dict[str, Step | None] = {}  # each escalation policy's first step, built once
        for event in opened:
            now = as_utc(event.occurred_at)
            row = rows.get(event.incident_id)
            name = (row.escalation_policy or "") if row is not None else ""
            escalation = policy.escalation_policies.get(name) if row is not None else None
            if escalation is None:
                continue
            if name not in firsts:
                firsts[name] = response_step(escalation, 0)
            first = firsts[name]
            if first is not None and pages_at_once(policy, escalation, row, first, now):
                item = self._response(policy, row, 0, {}, now, first)
                if item is not None:
                    by_time.setdefault(now, []).append(item)
        return by_time

    def resolution(self, conn: Connection, timer: Timer, now: datetime) -> None:
        """Engage the next level (expert, major) while the incident stays unresolved."""
        self.resolution_many(conn, [timer], now)

    def resolution_many(self, conn: Connection, batch: Sequence[Timer], now: datetime) -> None:
        """Fire resolution steps of distinct incidents: one statement per table, not per timer."""
        policy = self.policy()
        rows = self._incidents(conn, [t.incident_id for t in batch])
        due = [
            self._resolution(policy, rows.get(t.incident_id), t, now)
            for t in self._in_hours(conn, policy, batch, rows, now)
        ]
        self._fire(conn, policy, [d for d in due if d is not None], now)

    def _incidents(self, conn: Connection, wanted: Sequence[int | None]) -> dict[int | None, Any]:
        """Return the incident rows by id: one SELECT for one, IN for many."""
        ids = [incident_id for incident_id in wanted if incident_id is not None]
        if len(ids) == 1:
            found = conn.execute(_ONE, {"incident_id": ids[0]}).all()
        else:
            found = conn.execute(_MANY, {"ids": ids}).all() if ids else []
        return {int(row.id): row for row in found}

    @staticmethod
    def _response(
        policy: Policy,
        row: Any,
        index: int,
        late: Mapping[str, Any],
        now: datetime,
        step: Step | None = None,
    ) -> _Due | None:
        """Return the response step `index` if it pages now, and the one to schedule after it.

        `step` is that step when the caller built it already.
        """
        escalation = policy.escalation_policies.get(row.escalation_policy or "") if row else None
        if step is None:
            step = response_step(escalation, index) if escalation else None
        if escalation is None or step is None or not may_page(step, row.status, bool(row.paused)):
            return None
        step, following, skipped = catch_up(
            step,
            lambda i: response_step(escalation, i),
            lambda s: step_due(policy, escalation, row, s),
            now,
        )
        late = {**late, "skipped_steps": list(skipped)} if skipped else late
        return _Due(row, step, late, following, "escalation", "response")

    @staticmethod
    def _resolution(policy: Policy, row: Any, timer: Timer, now: datetime) -> _Due | None:
        """Return the resolution step a timer engages and the one to schedule after it, if any."""
        escalation = policy.escalation_policies.get(row.escalation_policy or "") if row else None
        index = int(timer.payload.get("step", 0))
        step = resolution_step(escalation, index, row.priority) if escalation else None
        if escalation is None or step is None or not may_page(step, row.status, bool(row.paused)):
            return None
        step, following, skipped = catch_up(
            step,
            lambda i: resolution_step(escalation, i, row.priority),
            lambda s: step_due(policy, escalation, row, s),
            now,
        )
        late = {**timer.late_data(), **({"skipped_steps": list(skipped)} if skipped else {})}
        return _Due(row, step, late, following, "resolution_step", "resolution")

    def _fire(self, conn: Connection, policy: Policy, due: Sequence[_Due], now: datetime) -> None:
        """Raise the incidents' level, record and page the steps, then schedule the next ones."""
        if not due:
            return
        reached: dict[tuple[tuple[Target, ...], tuple[Target, ...]], Reach] = {}
        for item in due:
            found = reached.get(item.targets)
            if found is None:
                found = reached[item.targets] = item.step.reach(policy, now)
            warn_unreached(item.row.id, item.step, found, self.metrics, item.row.priority)
            skipped = item.late.get("skipped_steps")
            if skipped:
                self.metrics.skipped.labels(priority=item.row.priority).inc(len(skipped))
                log.warning("incident %s: %s steps %s fell due while the bridge was down (%.0fs "
                            "late); paging step %s once instead", item.row.id, item.step.path,
                            skipped, item.late.get("late_seconds") or 0, item.step.index)  # fmt: skip
        levels: dict[tuple[int, bool], list[int]] = {}
        for item in due:
            if item.changes_row(now):
                levels.setdefault((item.level, item.step.major), []).append(item.row.id)
        for (level, major), ids in levels.items():
            conn.execute(
                _ESCALATE_MAJOR if major else _ESCALATE, {"ids": ids, "level": level, "now": now}
            )
        # Steps paged together are mostly one step object (new incidents' first steps): its
        # event data is built once; each event gets its own copy (the lists in it are only read).
        data: dict[int, dict[str, Any]] = {}
        for item in due:
            if id(item.step) not in data:
                data[id(item.step)] = item.step.event_data(reached[item.targets])
        recorded = record_events(
            conn,
            self.hooks,
            [
                NewEvent(
                    item.row.id,
                    "incident.escalated",
                    None,
                    now,
                    {**data[id(item.step)], **item.late},
                )
                for item in due
            ],
        )
        pages = []
        paged: dict[str, int] = {}
        for item, event in zip(due, recorded, strict=True):
            paged[item.row.priority] = paged.get(item.row.priority, 0) + 1
            targets = reached[item.targets].targets
            if targets:
                pages.append((int(item.row.id), event.id, targets))
        for priority, count in paged.items():
            self.metrics.escalations.labels(priority=priority).inc(count)
        self._page(pages, conn, now)
        self._next(conn, policy, [item for item in due if item.following is not None], now)

    def _page(
        self, pages: Sequence[tuple[int, int, Sequence[Target]]], conn: Connection, now: datetime
    ) -> None:
        """Hand the pages to the pager: all at once when it can take many (see tocsin.bridge.paging.pager)."""
        pager = self.pager()
        if pager is None:
            for incident_id, _, _ in pages:
                log.warning("incident %s: no pager configured; its step paged nobody", incident_id)
            return
        many = getattr(pager, "page_many", None)
        if many is not None and pages:
            many(conn, pages, now)
            return
        for incident_id, event_id, targets in pages:
            pager.page(conn, incident_id=incident_id, event_id=event_id, targets=targets, now=now)

    def _next(self, conn: Connection, policy: Policy, due: Sequence[_Due], now: datetime) -> None:
        """Schedule the steps after those that fired, and wake the scheduler for the soonest."""
        rows = [
            timer_row(
                item.kind,
                _due(policy, item.row, item.following),
                now=now,
                incident_id=item.row.id,
                subject=item.subject,
                payload={"step": item.following.index},
            )
            for item in due
            if item.following is not None
        ]
        self._schedule(conn, rows)

    def _schedule(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert timers and wake the scheduler for the soonest."""
        schedule_many(conn, rows)
        if rows and self.wake is not None:
            self.wake(min(row["due_at"] for row in rows))


def _heard_data(found: Reach) -> dict[str, Any]:
    """Return what an SLA event records of whom it paged and whom it reached not."""
    return {"targets": [str(t) for t in found.targets], **found.event_data()}


def _paging_due(policy: Policy, row: Any, timer: Timer) -> datetime | None:
    """Return when the step an escalation timer stands for pages, if it would page at all."""
    escalation = policy.escalation_policies.get(row.escalation_policy or "")
    if escalation is None:
        return None
    index = int(timer.payload.get("step", 0))
    if timer.kind == "escalation":
        step = response_step(escalation, index)
    else:
        step = resolution_step(escalation, index, row.priority)
    if step is None or not may_page(step, row.status, bool(row.paused)):
        return None
    return step_due(policy, escalation, row, step)


def _due(policy: Policy, row: Any, step: Step) -> datetime:
    """Return when a step of an incident pages, in its paging hours (sla/paging_hours.py)."""
    return step_due(policy, policy.escalation_policies[row.escalation_policy], row, step)


def _warns(clock: SlaClock, now: datetime) -> bool:
    """Return whether a running clock owes its warning now."""
    return clock.warned_at is None and clock.warn_at is not None and clock.warn_at <= now


def _breaches(clock: SlaClock, now: datetime) -> bool:
    """Return whether a running clock is breached now and not yet recorded so."""
    return clock.breached_at is None and clock.due_at is not None and clock.due_at <= now


@dataclass(frozen=True)
class _Running:
    """A running clock an SLA timer is about: its incident row, the clock and the timer."""

    row: Any
    clock: SlaClock
    exempt: bool
    timer: Timer


@dataclass(frozen=True)
class _Due:
    """A step that pages now: the incident row, the step, how late it is, and the step after it."""

    row: Any
    step: Step
    late: Mapping[str, Any]  # Timer.late_data() of the step's timer; nothing when paged at once
    following: Step | None
    kind: str  # the timer kind and subject the following step is scheduled as
    subject: str

    @property
    def targets(self) -> tuple[tuple[Target, ...], tuple[Target, ...]]:
        """Return what the step pages: its targets and its fallback (the key reach is cached by)."""
        return (self.step.notify, self.step.fallback)

    @property
    def level(self) -> int:
        """Return the incident's escalation_level once this step fired."""
        return max(int(self.row.escalation_level or 0), self.step.rank)

    def changes_row(self, now: datetime) -> bool:
        """Return whether firing moves the incident row (level, major, updated_at) at all.

        A first step paged as its incident opens leaves it as it is: level 0, updated now.
        """
        return (
            self.level != int(self.row.escalation_level or 0)
            or self.step.major
            or as_utc(self.row.updated_at) != now
        )
