"""The group commit's bounds: a full queue refuses at once, a wait ends, a gone sender is dropped,
and the recent pace sets how much a transaction takes and how long a queue may grow."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from sqlalchemy import Connection, text

from tests.pg import create_database
from tocsin.bridge.errors import Overloaded
from tocsin.bridge.store.db import SOLO_WRITERS, Store
from tocsin.bridge.store.group import (
    GROUP_LIMIT,
    GROUP_SECONDS,
    PACE_SMOOTHING,
    GroupCommit,
    Job,
)


@dataclass(frozen=True)
class _Insert:
    """A shared write of `n`, weighing `weight` alerts."""

    n: int
    weight: int = 1

    def __call__(self, conn: Connection) -> int:
        conn.execute(text("INSERT INTO shared (n) VALUES (:n)"), {"n": self.n})
        return self.n


def _store(url: str, **options: object) -> Store:
    store = Store(url, **options)  # type: ignore[arg-type]
    with store.begin() as conn:
        conn.execute(text("CREATE TABLE shared (n INTEGER NOT NULL)"))
    return store


def _stored(store: Store) -> list[int]:
    with store.connect() as conn:
        return sorted(int(n) for n in conn.execute(text("SELECT n FROM shared")).scalars())


@contextmanager
def _leader_blocked(store: Store, outcomes: dict[int, object]) -> Iterator[Callable[..., None]]:
    """Hold the write lock while a first writer leads (and waits); yield a way to queue more."""
    threads: list[threading.Thread] = []

    def send(work: _Insert, abandoned: threading.Event | None = None) -> None:
        def run() -> None:
            try:
                outcomes[work.n] = store.write_shared(work, abandoned)
            except Overloaded as exc:
                outcomes[work.n] = exc.reason

        thread = threading.Thread(target=run)
        threads.append(thread)
        thread.start()

    with store.begin():
        send(_Insert(1))
        while not store.group.leading:
            time.sleep(0.005)
        yield send
    for thread in threads:
        thread.join(timeout=10)


def _wait_queued(store: Store, depth: int) -> None:
    deadline = time.monotonic() + 5
    while store.group.depth < depth and time.monotonic() < deadline:
        time.sleep(0.005)


def test_a_write_past_the_queued_weight_is_refused_at_once_and_not_stored(
    sqlite_url: str,
) -> None:
    store = _store(sqlite_url, max_queued=100)
    outcomes: dict[int, object] = {}
    with _leader_blocked(store, outcomes) as send:
        send(_Insert(2, weight=80))
        _wait_queued(store, 1)
        started = time.monotonic()
        with pytest.raises(Overloaded, match="max_queued_alerts") as refused:
            store.write_shared(_Insert(3, weight=30))
        assert time.monotonic() - started < 0.05
    assert refused.value.reason == "queue_full" and refused.value.retry_after == 2
    assert outcomes == {1: 1, 2: 2}
    assert _stored(store) == [1, 2]
    store.dispose()


def test_a_write_no_transaction_took_in_time_gives_up_and_is_never_run(
    sqlite_url: str,
) -> None:
    store = _store(sqlite_url, queue_timeout=0.2)
    outcomes: dict[int, object] = {}
    with _leader_blocked(store, outcomes) as send:
        send(_Insert(2))
        _wait_queued(store, 1)
        time.sleep(0.4)  # the lock holder keeps the first writer's transaction waiting
        assert store.group.depth == 0
    assert outcomes == {1: 1, 2: "queue_timeout"}
    assert _stored(store) == [1]
    store.dispose()


def test_a_write_whose_sender_went_away_is_dropped_before_its_commit(sqlite_url: str) -> None:
    store = _store(sqlite_url)
    outcomes: dict[int, object] = {}
    gone = threading.Event()
    with _leader_blocked(store, outcomes) as send:
        send(_Insert(2), gone)
        send(_Insert(3))
        _wait_queued(store, 2)
        gone.set()
    assert outcomes == {1: 1, 2: "gone", 3: 3}
    assert _stored(store) == [1, 3]
    store.dispose()


def test_a_write_of_its_own_whose_sender_went_away_is_not_run(database_url: str) -> None:
    store = _store(database_url)
    gone = threading.Event()
    gone.set()
    with pytest.raises(Overloaded) as refused:
        store.write_shared(_Insert(1), gone)
    assert refused.value.reason == "gone"
    assert _stored(store) == []
    with store.begin() as conn:
        conn.execute(text("DROP TABLE shared"))
    store.dispose()


def _job(weight: int, waited: float = 0.0) -> Job[int]:
    return Job(lambda _conn: weight, weight, queued_at=time.monotonic() - waited)


def test_a_write_that_would_wait_past_the_queue_timeout_at_the_recent_pace_is_refused() -> None:
    ran: list[list[Job[int]]] = []
    group = GroupCommit(ran.append, max_weight=5000, wait=0.5)
    group._paced(1.0, 100)  # recent transactions: 10 ms an alert
    group.queue, group.weight = [_job(60)], 60  # 0.6 s of work already waits
    with pytest.raises(Overloaded) as refused:
        group.submit(_job(1))
    assert refused.value.reason == "queue_full" and "limits.queue_timeout" in refused.value.message
    assert ran == [] and group.weight == 60


def test_work_that_could_not_commit_by_its_deadline_is_left_out_and_never_run() -> None:
    group = GroupCommit(lambda _jobs: None, wait=0.5)
    group._paced(1.0, 100)  # 10 ms an alert: 10 alerts take 0.1 s
    first, late, on_time = _job(10), _job(10, waited=0.45), _job(10)
    group.queue, group.weight = [first, late, on_time], 30
    with group.cond:  # the leader holds it while taking
        assert group._take() == [first, on_time]
    assert late.finished and not late.taken and isinstance(late.error, Overloaded)
    assert late.error.reason == "queue_timeout" and group.weight == 0


def test_the_first_work_of_a_transaction_is_taken_however_late() -> None:
    group = GroupCommit(lambda _jobs: None, wait=0.5)
    group._paced(1.0, 100)
    alone = _job(10, waited=0.6)  # a slow machine, not a queue: refusing it helps nobody
    group.queue, group.weight = [alone], 10
    assert group._take() == [alone]


def test_a_slow_pace_never_starves_the_queue() -> None:
    group = GroupCommit(lambda _jobs: None, wait=0.5)
    group._paced(10.0, 100)  # 100 ms an alert: 10 alerts would take a second
    fresh = _job(10)
    group.queue, group.weight = [fresh], 10
    assert group._take() == [fresh]


def test_a_leader_takes_its_own_work_into_its_transaction_past_the_bounds() -> None:
    group = GroupCommit(lambda _jobs: None)
    ahead = [_job(1) for _ in range(GROUP_LIMIT)]
    own = _job(1)
    group.queue, group.weight = [*ahead, own], GROUP_LIMIT + 1
    assert group._take(own) == [*ahead, own]


def test_a_shared_transaction_takes_what_the_recent_pace_does_in_its_time() -> None:
    group = GroupCommit(lambda _jobs: None)
    group._paced(GROUP_SECONDS, 200)  # 200 alerts fill a transaction's time
    group._paced(GROUP_SECONDS, 200)
    jobs = [_job(150), _job(150), _job(40)]
    group.queue, group.weight = list(jobs), 340
    assert group._take() == [jobs[0]]
    assert group._take() == [jobs[1], jobs[2]]


def test_the_pace_follows_recent_transactions_smoothly() -> None:
    group = GroupCommit(lambda _jobs: None)
    group._paced(1.0, 100)
    group._paced(0.0, 100)
    assert group.pace == pytest.approx(0.01 * (1 - PACE_SMOOTHING))


@dataclass(frozen=True)
class _Held:
    """A write of its own that holds its writer until released."""

    n: int
    entered: threading.Semaphore
    release: threading.Event

    def __call__(self, conn: Connection) -> int:
        self.entered.release()
        self.release.wait(30)
        return _Insert(self.n)(conn)


def test_on_postgresql_writes_of_their_own_wait_for_a_few_writers_then_give_up(
    postgres_server: str,
) -> None:
    store = _store(create_database(postgres_server), queue_timeout=3.0)
    entered, release = threading.Semaphore(0), threading.Event()
    outcomes: dict[int, object] = {}

    def write(work: Callable[[Connection], int], n: int) -> None:
        try:
            outcomes[n] = store.write_shared(work)
        except Overloaded as exc:
            outcomes[n] = exc.reason

    holders = [
        threading.Thread(target=write, args=(_Held(n, entered, release), n))
        for n in range(SOLO_WRITERS)
    ]
    waiters = [
        threading.Thread(target=write, args=(_Insert(n), n))
        for n in range(SOLO_WRITERS, 2 * SOLO_WRITERS)
    ]
    try:
        for thread in holders:
            thread.start()
        for _ in holders:
            assert entered.acquire(timeout=10)
        assert store.refusal() is None
        for thread in waiters:
            thread.start()
        deadline = time.monotonic() + 3
        while store._solo_waiting < SOLO_WRITERS and time.monotonic() < deadline:
            time.sleep(0.01)
        refusal = store.refusal()
        for thread in waiters:
            thread.join(10)
    finally:
        release.set()
        for thread in holders:
            thread.join(10)
    assert refusal is not None and refusal.reason == "queue_full"
    assert outcomes == {
        **{n: n for n in range(SOLO_WRITERS)},
        **{n: "queue_timeout" for n in range(SOLO_WRITERS, 2 * SOLO_WRITERS)},
    }
    assert _stored(store) == list(range(SOLO_WRITERS))
    store.dispose()
