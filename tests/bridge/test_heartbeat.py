from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event, func, select

from tests.bridge.sla.harness import FakeClock, event_kinds, incident_row, make_runtime, run
from tocsin.bridge.ingest.heartbeats import Beat, record_heartbeats
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import heartbeats


@pytest.fixture
def runtime(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    """A runtime on each database: the heartbeat statements differ between them."""
    built = make_runtime(database_url, clock)
    yield built
    built.store.dispose()


def beat(runtime: Runtime, host: str = "db1") -> None:
    runtime.store.write_shared(
        Beat(host, 30, {"env": "prod"}, runtime.clock(), 3, runtime.heartbeat_hooks)
    )


def silent_incident(runtime: Runtime, host: str = "db1") -> int | None:
    from tocsin.bridge.store.schema import incidents

    with runtime.store.connect() as conn:
        found = conn.execute(select(incidents.c.id).where(incidents.c.host == host)).scalar()
        return None if found is None else int(found)


def test_host_missing_three_heartbeats_gets_a_p1_incident(
    runtime: Runtime, clock: FakeClock
) -> None:
    beat(runtime)
    clock.advance(seconds=89)
    run(runtime)
    assert silent_incident(runtime) is None
    clock.advance(seconds=1)
    run(runtime)
    incident = silent_incident(runtime)
    assert incident is not None
    row = incident_row(runtime, incident)
    assert (row.priority, row.source, row.key) == ("P1", "heartbeat", "heartbeat:db1")


def test_heartbeats_in_time_keep_the_host_alive(runtime: Runtime, clock: FakeClock) -> None:
    for _ in range(5):
        beat(runtime)
        clock.advance(seconds=60)
        run(runtime)
    assert silent_incident(runtime) is None


def test_returning_heartbeat_resolves_the_silent_incident(
    runtime: Runtime, clock: FakeClock
) -> None:
    beat(runtime)
    clock.advance(seconds=120)
    run(runtime)
    beat(runtime)
    incident = silent_incident(runtime)
    assert incident is not None
    assert incident_row(runtime, incident).status == "resolved"
    assert event_kinds(runtime, incident)[-1] == "incident.resolved"


def test_silent_hosts_are_counted_on_metrics(runtime: Runtime, clock: FakeClock) -> None:
    beat(runtime, "db1")
    clock.advance(seconds=60)
    beat(runtime, "db2")
    clock.advance(seconds=60)
    run(runtime)
    text = runtime.metrics.exposition().decode()
    assert 'tocsin_bridge_heartbeat_hosts{state="silent"} 1.0' in text
    assert 'tocsin_bridge_heartbeat_hosts{state="alive"} 1.0' in text


def _statements(runtime: Runtime, action: Callable[[], object]) -> list[str]:
    seen: list[str] = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(runtime.store.engine, "before_cursor_execute", listener)
    try:
        action()
    finally:
        event.remove(runtime.store.engine, "before_cursor_execute", listener)
    return seen


def test_a_heartbeat_costs_the_same_statements_for_ten_or_thousands_of_hosts(
    runtime: Runtime,
) -> None:
    few = _statements(runtime, lambda: beat(runtime, "db1"))
    with runtime.store.begin() as conn:
        record_heartbeats(conn, [Beat(f"h{n}", 30, {}, runtime.clock(), 3) for n in range(5000)])
    many = _statements(runtime, lambda: beat(runtime, "db2"))
    assert len(many) == len(few)
    assert not any("timers" in statement for statement in many)


def test_the_silence_sweep_reads_only_hosts_past_their_deadline_by_index(
    sqlite_url: str, clock: FakeClock
) -> None:
    from tocsin.bridge.ingest.silence import _DUE

    runtime = make_runtime(sqlite_url, clock)

    with runtime.store.connect() as conn:
        sql = str(_DUE.compile(conn, compile_kwargs={"literal_binds": False}))
        plan = " ".join(
            str(row[-1])
            for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", ("2026-01-01", 100, 0))
        )
    assert "ix_heartbeats_deadline_at" in plan


def test_concurrent_heartbeats_share_one_commit(sqlite_url: str, clock: FakeClock) -> None:
    runtime = make_runtime(sqlite_url, clock)
    commits: list[int] = []
    event.listen(runtime.store.engine, "commit", lambda conn: commits.append(1))
    with runtime.store.begin():  # hold the write lock while the heartbeats line up
        threads = [threading.Thread(target=beat, args=(runtime, f"h{n}")) for n in range(8)]
        for thread in threads:
            thread.start()
        for _ in range(500):
            if runtime.store.group.depth >= 7:
                break
            time.sleep(0.01)
    for thread in threads:
        thread.join(timeout=10)
    assert len(commits) <= 3  # the lock holder's, the first heartbeat's, the other seven's
    with runtime.store.connect() as conn:
        assert conn.execute(select(func.count()).select_from(heartbeats)).scalar_one() == 8
