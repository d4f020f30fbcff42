"""A host silent inside its maintenance window pages nobody; still silent after it, it pages."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.bridge.sla.harness import FakeClock, make_runtime, run
from tocsin.bridge.ingest.heartbeats import Beat
from tocsin.bridge.maintenance.weekly import read_weekly
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import incidents


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(database_url: str, clock: FakeClock) -> Iterator[Runtime]:
    built = make_runtime(database_url, clock)
    yield built
    built.store.dispose()


def beat(runtime: Runtime, host: str) -> None:
    runtime.store.write_shared(Beat(host, 30, {}, runtime.clock(), 3, runtime.heartbeat_hooks))


def silent(runtime: Runtime, host: str) -> bool:
    with runtime.store.connect() as conn:
        return (
            conn.execute(select(incidents.c.id).where(incidents.c.host == host)).first() is not None
        )


def test_a_reboot_inside_the_window_pages_nobody_and_one_that_lasts_past_it_pages(
    runtime: Runtime, clock: FakeClock
) -> None:
    beat(runtime, "db1")
    beat(runtime, "web1")
    runtime.maintenance.open(
        ["instance=db1"], clock() + timedelta(minutes=10), "reboot", "alice", "api"
    )
    clock.advance(seconds=5 * 60)
    run(runtime)
    assert not silent(runtime, "db1")  # silent for 5 minutes, inside its window
    assert silent(runtime, "web1")  # no window: pages as before
    clock.advance(seconds=5 * 60 + 1)
    run(runtime)
    assert silent(runtime, "db1")  # still down when the window ended


def test_a_host_back_before_the_window_ends_never_pages(runtime: Runtime, clock: FakeClock) -> None:
    beat(runtime, "db1")
    runtime.maintenance.open(
        ["instance=db1"], clock() + timedelta(minutes=10), "reboot", "alice", "api"
    )
    clock.advance(seconds=5 * 60)
    run(runtime)
    for _ in range(12):  # back up, beating every 30 s past the window's end
        beat(runtime, "db1")
        clock.advance(seconds=30)
        run(runtime)
    assert not silent(runtime, "db1")


def test_a_weekly_window_stored_through_the_desk_covers_a_silent_host_until_its_end(
    runtime: Runtime, clock: FakeClock
) -> None:
    weekly = read_weekly(
        days=["mon"],
        start="03:00",
        end="06:00",
        length=None,
        timezone="America/New_York",
        first=None,
        until=None,
        now=clock(),
    )
    beat(runtime, "db1")
    runtime.maintenance.open_weekly(["instance=db1"], weekly, "patching", "alice", "api")
    ends = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)  # Monday 06:00 EST
    assert clock() < ends - timedelta(minutes=30)
    clock.advance(seconds=30 * 60)
    run(runtime)
    assert not silent(runtime, "db1")
    clock.now = ends + timedelta(seconds=1)
    run(runtime)
    assert silent(runtime, "db1")
