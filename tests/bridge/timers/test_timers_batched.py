"""Due timers of one kind and distinct incidents go to their handler's `many` together; others one by one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select

from tests.bridge.helpers import FakeClock
from tests.bridge.sla.harness import make_runtime, open_incident
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import timers
from tocsin.bridge.timers.rows import Batched, Timer, cancel, schedule
from tocsin.bridge.timers.scheduler import Scheduler


@dataclass
class Calls:
    """A batched handler recording how it was called: ("one", id) or ("many", (ids…))."""

    seen: list[tuple[str, Any]] = field(default_factory=list)
    broken_many: bool = False

    def one(self, conn: Connection, timer: Timer, now: datetime) -> None:
        self.seen.append(("one", timer.subject))

    def many(self, conn: Connection, batch: Sequence[Timer], now: datetime) -> None:
        if self.broken_many:
            raise RuntimeError("bug in many")
        self.seen.append(("many", tuple(t.subject for t in batch)))


@pytest.fixture
def runtime(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """The default runtime, on each engine the bridge supports."""
    built = make_runtime(database_url, clock)
    yield built
    built.store.dispose()


def fire(runtime: Runtime, plan: str, calls: Calls) -> list[tuple[str, Any]]:
    """Schedule timers named by `plan` ("a1 b2 a1": kind and incident, due in that order), fire."""
    clock = runtime.clock
    opened = [open_incident(runtime) for _ in range(3)]
    with runtime.store.begin() as conn:
        cancel(conn)  # the incidents' own timers are not this test's
        for n, word in enumerate(plan.split()):
            due = clock() - timedelta(seconds=60 - n)
            schedule(conn, word[0], due, now=due, incident_id=opened[int(word[1])], subject=word)
    handlers = {"a": Batched(calls.one, calls.many), "b": calls.one}
    Scheduler(runtime.store, handlers, clock=clock, chunk=50).run_once()
    return calls.seen


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        ("a0 a1 a2", [("many", ("a0", "a1", "a2"))]),
        ("a0 b1 a2", [("one", "a0"), ("one", "b1"), ("one", "a2")]),
        ("a0 a1 b2 b2", [("many", ("a0", "a1")), ("one", "b2"), ("one", "b2")]),
        ("a0 a0", [("one", "a0"), ("one", "a0")]),
        ("a0 a1 a0", [("one", "a0"), ("one", "a1"), ("one", "a0")]),
        ("a0 a1 a1 a2", [("one", "a0"), ("one", "a1"), ("one", "a1"), ("one", "a2")]),
    ],
)
def test_consecutive_timers_of_distinct_incidents_fire_together_in_due_order(
    runtime: Runtime, plan: str, expected: list[tuple[str, Any]]
) -> None:
    assert fire(runtime, plan, Calls()) == expected


def test_a_failing_many_rolls_back_and_every_timer_fires_alone(runtime: Runtime) -> None:
    seen = fire(runtime, "a0 a1 a2", Calls(broken_many=True))
    assert seen == [("one", "a0"), ("one", "a1"), ("one", "a2")]


def test_timers_fired_together_each_record_their_own_lag(runtime: Runtime) -> None:
    fire(runtime, "a0 a1 b2", Calls())
    with runtime.store.connect() as conn:
        query = select(timers.c.subject, timers.c.lag_seconds, timers.c.fired_at)
        fired = conn.execute(query.where(timers.c.kind.in_(["a", "b"]))).all()
    assert sorted((subject, lag) for subject, lag, _ in fired) == [
        ("a0", 60.0),
        ("a1", 59.0),
        ("b2", 58.0),
    ]
    assert {as_utc(at) for _, _, at in fired} == {runtime.clock()}
