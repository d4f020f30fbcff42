"""A bridge runtime on a real database with a hand-driven clock and a pager that records pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select

from tests.bridge import helpers
from tests.bridge.helpers import FakeClock
from tocsin.bridge.platform.config import BridgeConfig
from tocsin.bridge.policy.model import Target
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import events, incidents, sla_clocks, timers
from tocsin.bridge.timers.periodic import Periodic
from tocsin.bridge.timers.scheduler import Scheduler

START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai


@dataclass
class RecordingPager:
    """The Pager seam, recording whom each page went to."""

    pages: list[tuple[int, int, tuple[str, ...]]] = field(default_factory=list)

    def page(
        self,
        conn: Connection,
        *,
        incident_id: int,
        event_id: int,
        targets: Sequence[Target],
        now: datetime,
    ) -> None:
        self.pages.append((incident_id, event_id, tuple(str(t) for t in targets)))


def make_runtime(url: str, clock: FakeClock | None = None, policy: str | None = None) -> Runtime:
    """Build a runtime on a fresh schema with the bundled (or given) policy, recording pages."""
    runtime = helpers.make_runtime(
        url,
        clock or FakeClock(START),
        config=BridgeConfig(database_url=url),
        policy=policy,
        migrate=False,
    )
    runtime.pager = RecordingPager()
    return runtime


def scheduler(runtime: Runtime) -> Scheduler:
    """Return the scheduler the SLA engine registered."""
    return next(w for w in runtime.workers if isinstance(w, Scheduler))


SLA_EVENTS = ("incident.sla_warning", "incident.sla_breached")


def pages(runtime: Runtime, kind: str | None = None) -> list[tuple[str, ...]]:
    """Return the targets of every page so far: of one event kind, or all but SLA events'."""
    pager = runtime.pager
    assert isinstance(pager, RecordingPager)
    with runtime.store.connect() as conn:
        kinds = dict(conn.execute(select(events.c.id, events.c.kind)).all())
    return [
        targets
        for _, event_id, targets in pager.pages
        if (kinds.get(event_id) == kind if kind else kinds.get(event_id) not in SLA_EVENTS)
    ]


def open_incident(runtime: Runtime, priority: str = "P1", **fields: Any) -> int:
    """Open an incident by hand under the 'ops' escalation policy."""
    fields.setdefault("escalation_policy", "ops")
    return runtime.incidents.create(title="disk full", priority=priority, actor="desk", **fields)


def event_kinds(runtime: Runtime, incident_id: int) -> list[str]:
    """Return the kinds of an incident's events, oldest first."""
    with runtime.store.connect() as conn:
        query = select(events.c.kind).where(events.c.incident_id == incident_id)
        return list(conn.execute(query.order_by(events.c.id)).scalars())


def event_data(runtime: Runtime, incident_id: int, kind: str) -> list[dict[str, Any]]:
    """Return the data of an incident's events of one kind."""
    with runtime.store.connect() as conn:
        query = select(events.c.data).where(
            events.c.incident_id == incident_id, events.c.kind == kind
        )
        return [dict(d) for d in conn.execute(query.order_by(events.c.id)).scalars()]


def clock_row(runtime: Runtime, incident_id: int, name: str) -> Any:
    """Return one sla_clocks row."""
    with runtime.store.connect() as conn:
        return conn.execute(
            select(sla_clocks).where(
                sla_clocks.c.incident_id == incident_id, sla_clocks.c.clock == name
            )
        ).one()


def pending_kinds(runtime: Runtime, incident_id: int | None = None) -> list[str]:
    """Return the kinds of pending timers (of one incident), soonest first."""
    with runtime.store.connect() as conn:
        query = select(timers.c.kind).where(
            timers.c.fired_at.is_(None), timers.c.cancelled.is_(False)
        )
        if incident_id is not None:
            query = query.where(timers.c.incident_id == incident_id)
        return list(conn.execute(query.order_by(timers.c.due_at, timers.c.id)).scalars())


def incident_row(runtime: Runtime, incident_id: int) -> Any:
    """Return an incident row."""
    with runtime.store.connect() as conn:
        return conn.execute(select(incidents).where(incidents.c.id == incident_id)).one()


def silence_sweep(runtime: Runtime) -> Periodic:
    """Return the worker that finds hosts whose heartbeats stopped."""
    return next(w for w in runtime.workers if isinstance(w, Periodic) and w.name == "silence-sweep")


def run(runtime: Runtime) -> int:
    """Fire every due timer and turn silent every host past its deadline, until none is left.

    Return how many timers were claimed and hosts turned silent.
    """
    total = 0
    for _ in range(50):
        done = scheduler(runtime).run_once() + silence_sweep(runtime).run_once()
        total += done
        if not done:
            return total
    raise AssertionError("timers kept falling due")
