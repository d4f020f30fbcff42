from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Connection, event

from tests.bridge.helpers import FakeClock
from tests.bridge.sla.harness import make_runtime, open_incident, pages, scheduler
from tocsin.bridge.incidents.service import acknowledge
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata
from tocsin.bridge.timers.rows import Timer, pending, schedule
from tocsin.bridge.timers.scheduler import Scheduler


@pytest.fixture
def fresh_store() -> Iterator[Callable[[str], Store]]:
    made: list[Store] = []

    def make(url: str) -> Store:
        made.append(Store(url))
        metadata.create_all(made[-1].engine)
        return made[-1]

    yield make
    for store in made:
        store.dispose()


@pytest.fixture
def runtimes() -> Iterator[Callable[[str], Runtime]]:
    made: list[Runtime] = []

    def make(url: str) -> Runtime:
        made.append(make_runtime(url))
        return made[-1]

    yield make
    for runtime in made:
        runtime.store.dispose()


def add_timers(store: Store, count: int, now: object, kind: str = "count") -> None:
    with store.begin() as conn:
        for index in range(count):
            schedule(conn, kind, now, now=now, subject=str(index))  # type: ignore[arg-type]


def test_two_schedulers_fire_every_timer_exactly_once(
    database_url: str, fresh_store: Callable[[str], Store], runtimes: Callable[[str], Runtime]
) -> None:
    store = fresh_store(database_url)
    clock = FakeClock()
    add_timers(store, 300, clock.now)
    fired: Counter[int] = Counter()
    lock = threading.Lock()

    def count(conn: Connection, timer: Timer, now: object) -> None:
        with lock:
            fired[timer.id] += 1

    replicas = [Scheduler(store, {"count": count}, clock=clock, batch=20) for _ in range(2)]

    def drain(replica: Scheduler) -> None:
        for _ in range(100):
            if not replica.run_once():
                return

    threads = [threading.Thread(target=drain, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(fired) == 300 and set(fired.values()) == {1}


def test_claimed_timer_of_a_dead_replica_fires_after_its_lease(
    sqlite_url: str, fresh_store: Callable[[str], Store], runtimes: Callable[[str], Runtime]
) -> None:
    store = fresh_store(sqlite_url)
    clock = FakeClock()
    add_timers(store, 1, clock.now)
    fired: list[int] = []
    dead = Scheduler(store, {}, clock=clock, lease=timedelta(seconds=30))
    alive = Scheduler(store, {"count": lambda c, t, n: fired.append(t.id)}, clock=clock)
    assert dead._claim(clock.now) == [(1, "count")]  # claimed, then the replica died before firing
    assert alive.run_once() == 0
    clock.advance(seconds=31)
    assert (alive.run_once(), fired) == (1, [1])


def test_timer_without_a_handler_is_marked_fired(
    sqlite_url: str, fresh_store: Callable[[str], Store], runtimes: Callable[[str], Runtime]
) -> None:
    store = fresh_store(sqlite_url)
    clock = FakeClock()
    add_timers(store, 1, clock.now, kind="unknown")
    Scheduler(store, {}, clock=clock).run_once()
    with store.connect() as conn:
        assert pending(conn) == []


def test_failing_handler_leaves_its_timer_for_a_retry(
    sqlite_url: str, fresh_store: Callable[[str], Store], runtimes: Callable[[str], Runtime]
) -> None:
    store = fresh_store(sqlite_url)
    clock = FakeClock()
    add_timers(store, 1, clock.now)

    def broken(conn: Connection, timer: Timer, now: object) -> None:
        raise RuntimeError("bug")

    Scheduler(store, {"count": broken}, clock=clock).run_once()
    with store.connect() as conn:
        assert [t.kind for t in pending(conn)] == ["count"]


def test_lag_is_recorded_on_the_histogram(
    sqlite_url: str, fresh_store: Callable[[str], Store], runtimes: Callable[[str], Runtime]
) -> None:
    runtime = runtimes(sqlite_url)
    add_timers(runtime.store, 1, runtime.clock(), kind="follow_up")
    runtime.clock.advance(seconds=2)  # type: ignore[attr-defined]
    scheduler(runtime).run_once()
    text = runtime.metrics.exposition().decode()
    assert "tocsin_bridge_timer_lag_seconds_sum 2.0" in text
    assert "tocsin_bridge_timers_pending 0.0" in text


def test_scheduler_wakes_early_for_a_sooner_timer(
    sqlite_url: str, fresh_store: Callable[[str], Store], runtimes: Callable[[str], Runtime]
) -> None:
    store = fresh_store(sqlite_url)
    fired = threading.Event()
    worker = Scheduler(store, {"count": lambda c, t, n: fired.set()}, poll_interval=30.0)
    worker.start()
    try:
        time.sleep(0.2)  # the loop is now waiting out its 30 s poll interval
        due = utcnow() + timedelta(milliseconds=200)
        with store.begin() as conn:
            schedule(conn, "count", due, now=utcnow())
        worker.wake(due)
        assert fired.wait(5)
    finally:
        worker.stop()


def test_ack_committed_first_means_the_step_never_pages(
    database_url: str, fresh_store: Callable[[str], Store], runtimes: Callable[[str], Runtime]
) -> None:
    runtime = runtimes(database_url)
    incident = open_incident(runtime)  # step 0 pages as it opens, step 1 is due in 5 minutes
    assert isinstance(runtime.clock, FakeClock)
    runtime.clock.advance(minutes=5)
    with runtime.store.begin() as conn:
        acknowledge(conn, runtime.hooks, incident, actor="ann", now=runtime.clock())
        racer = threading.Thread(target=scheduler(runtime).run_once)
        racer.start()
        time.sleep(0.3)  # the scheduler is now waiting for the incident's lock
    racer.join(10)
    assert pages(runtime) == [("person:primary",)]


def test_a_large_batch_fires_in_short_transactions_each_timer_once(
    sqlite_url: str, fresh_store: Callable[[str], Store]
) -> None:
    store = fresh_store(sqlite_url)
    clock = FakeClock()
    add_timers(store, 30, clock.now)
    fired: Counter[int] = Counter()

    def count(conn: Connection, timer: Timer, now: object) -> None:
        fired[timer.id] += 1

    replica = Scheduler(store, {"count": count}, clock=clock, batch=50, chunk=7, pause=0)
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda conn: commits.append(1))
    assert replica.run_once() == 30
    assert len(fired) == 30 and set(fired.values()) == {1}
    assert len(commits) == 1 + 5  # the claim, then 7+7+7+7+2 timers
