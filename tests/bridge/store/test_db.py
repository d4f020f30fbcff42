from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Connection, event, text

from tests.bridge.helpers import make_runtime
from tests.pg import create_database
from tocsin.bridge.errors import ConfigError, NotFound, StoreUnavailable
from tocsin.bridge.store import engine
from tocsin.bridge.store.db import Store, lock_incident


def test_sqlite_runs_in_wal_with_foreign_keys(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    store.dispose()


def test_write_lock_held_elsewhere_is_store_unavailable_not_a_hang(sqlite_url: str) -> None:
    store = Store(sqlite_url, busy_timeout=0.2, retry_after=7)
    locker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreUnavailable) as caught:
        with store.begin() as conn:
            conn.execute(text("SELECT 1"))
    locker.rollback()
    locker.close()
    store.dispose()
    assert caught.value.retry_after == 7


def test_unreachable_postgresql_is_store_unavailable() -> None:
    store = Store("postgresql+psycopg://nobody@127.0.0.1:1/none", busy_timeout=0.5)
    with pytest.raises(StoreUnavailable):
        with store.connect() as conn:
            conn.execute(text("SELECT 1"))


def test_sqlite_in_a_missing_directory_is_a_config_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError):
        Store(f"sqlite:///{tmp_path}/missing/t.db")


def test_lock_incident_of_unknown_id_is_not_found(database_url: str) -> None:
    runtime = make_runtime(database_url)
    with pytest.raises(NotFound), runtime.store.begin() as conn:
        lock_incident(conn, 42)
    runtime.store.dispose()


def test_concurrent_writers_both_commit(database_url: str) -> None:
    runtime = make_runtime(database_url)
    errors: list[BaseException] = []

    def create() -> None:
        try:
            for _ in range(5):
                runtime.incidents.create(title="t", priority="P3", actor="a")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    with runtime.store.connect() as conn:
        count = conn.execute(text("SELECT count(*) FROM incidents")).scalar()
    runtime.store.dispose()
    assert errors == [] and count == 20


def _table(store: Store) -> None:
    with store.begin() as conn:
        conn.execute(text("CREATE TABLE shared (n INTEGER PRIMARY KEY)"))


def _insert(n: int) -> Callable[[Connection], int]:
    def work(conn: Connection) -> int:
        conn.execute(text("INSERT INTO shared (n) VALUES (:n)"), {"n": n})
        if n < 0:
            raise ValueError(f"refused {n}")
        return n

    return work


def _stored(store: Store) -> list[int]:
    with store.connect() as conn:
        return list(conn.execute(text("SELECT n FROM shared ORDER BY n")).scalars())


def test_concurrent_shared_writes_each_return_their_result_once_committed(
    database_url: str,
) -> None:
    store = Store(database_url)
    _table(store)
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda n=n: results.append(store.write_shared(_insert(n))))
        for n in range(1, 21)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(results) == _stored(store) == list(range(1, 21))
    with store.begin() as conn:
        conn.execute(text("DROP TABLE shared"))
    store.dispose()


def test_writers_waiting_share_one_commit_and_a_failing_one_rolls_back_alone(
    sqlite_url: str,
) -> None:
    store = Store(sqlite_url)
    _table(store)
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda conn: commits.append(1))
    outcomes: dict[int, object] = {}

    def send(n: int) -> None:
        try:
            outcomes[n] = store.write_shared(_insert(n))
        except ValueError as exc:
            outcomes[n] = str(exc)

    with store.begin():  # hold the write lock while the writers line up
        first = threading.Thread(target=send, args=(1,))
        first.start()
        while not store.group.leading:  # the first writer leads and waits for the lock
            time.sleep(0.01)
        rest = [threading.Thread(target=send, args=(n,)) for n in (2, -3, 4)]
        for thread in rest:
            thread.start()
        for _ in range(500):
            if len(store.group.queue) == 3:
                break
            time.sleep(0.01)
    for thread in [first, *rest]:
        thread.join(timeout=30)
    assert outcomes == {1: 1, 2: 2, -3: "refused -3", 4: 4}
    assert _stored(store) == [1, 2, 4]
    assert len(commits) == 3  # the lock holder's, the first writer's, and one for the rest
    store.dispose()


def test_a_shared_write_alone_that_fails_raises_and_leaves_nothing(database_url: str) -> None:
    store = Store(database_url)
    _table(store)
    with pytest.raises(ValueError, match="refused -1"):
        store.write_shared(_insert(-1))
    assert (store.write_shared(_insert(2)), _stored(store)) == (2, [2])
    with store.begin() as conn:
        conn.execute(text("DROP TABLE shared"))
    store.dispose()


@dataclass(frozen=True)
class _Mergeable:
    """Shared-write work that can run together with its kind: one INSERT for all."""

    n: int
    merged: list[int]

    def __call__(self, conn: Connection) -> int:
        return _insert(self.n)(conn)

    @property
    def merge(self) -> Callable[[Connection, list[_Mergeable]], list[int]]:
        return _merge


def _merge(conn: Connection, works: list[_Mergeable]) -> list[int]:
    works[0].merged.append(len(works))
    conn.execute(text("INSERT INTO shared (n) VALUES (:n)"), [{"n": w.n} for w in works])
    if any(w.n < 0 for w in works):
        raise ValueError("refused")
    return [w.n for w in works]


@pytest.mark.parametrize(
    ("numbers", "merged", "stored"),
    [((2, 3, 4), [3], [1, 2, 3, 4]), ((2, -3, 4), [3], [1, 2, 4])],
)
def test_waiting_writers_with_a_merge_run_as_one_or_alone_when_it_fails(
    sqlite_url: str, numbers: tuple[int, ...], merged: list[int], stored: list[int]
) -> None:
    store = Store(sqlite_url)
    _table(store)
    calls: list[int] = []
    outcomes: dict[int, object] = {}

    def send(n: int) -> None:
        try:
            outcomes[n] = store.write_shared(_Mergeable(n, calls))
        except ValueError as exc:
            outcomes[n] = str(exc)

    with store.begin():  # hold the write lock while the writers line up
        first = threading.Thread(target=send, args=(1,))
        first.start()
        while not store.group.leading:
            time.sleep(0.01)
        rest = [threading.Thread(target=send, args=(n,)) for n in numbers]
        for thread in rest:
            thread.start()
        for _ in range(500):
            if len(store.group.queue) == len(numbers):
                break
            time.sleep(0.01)
    for thread in [first, *rest]:
        thread.join(timeout=30)
    assert calls == merged
    assert _stored(store) == stored
    assert outcomes == {n: (n if n > 0 else f"refused {n}") for n in (1, *numbers)}
    store.dispose()


def test_a_postgresql_connection_killed_while_idle_is_replaced_unseen(
    postgres_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "PING_AFTER_IDLE", 0.0)
    url = create_database(postgres_server)
    store = Store(url)
    with store.connect() as conn:
        first = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (first,))
    with store.begin() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() != first
    store.dispose()


def test_a_postgresql_connection_used_a_moment_ago_is_not_pinged(postgres_server: str) -> None:
    store = Store(create_database(postgres_server))
    pings: list[object] = []
    ping = store.engine.dialect.do_ping
    store.engine.dialect.do_ping = lambda conn: pings.append(conn) or ping(conn)  # type: ignore[method-assign]
    for _ in range(3):
        with store.begin() as conn:
            conn.exec_driver_sql("SELECT 1")
    assert pings == []
    store.dispose()


def test_postgresql_sessions_give_times_in_utc_itself(postgres_server: str) -> None:
    store = Store(create_database(postgres_server))
    with store.connect() as conn:
        assert conn.exec_driver_sql("SHOW TimeZone").scalar() == "UTC"
        assert conn.exec_driver_sql("SELECT now()").scalar().tzinfo is UTC
        naive = conn.exec_driver_sql("SELECT '2026-03-02 09:00'::timestamptz").scalar()
    assert naive == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    store.dispose()
