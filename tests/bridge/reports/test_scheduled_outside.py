"""A scheduled report is built outside the write transaction, and sent once per period."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Connection, func, select

from tests.bridge.helpers import INGEST, FakeClock, bearer, make_runtime
from tests.bridge.reports.test_scheduled import MONDAY_9, policy_with_report
from tests.bridge.testclient import TestClient
from tocsin.bridge.policy.model import Policy, ReportSchedule
from tocsin.bridge.reports.scheduled import (
    KIND,
    ReportMessage,
    ensure_scheduled,
    handler,
    outbox_sender,
    report_messages,
)
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app
from tocsin.bridge.store.schema import incidents, outbox
from tocsin.bridge.timers.scheduler import Scheduler

WAIT = 30.0  # generous: the machine may be busy; every wait ends as soon as its event is set


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    clock = FakeClock(MONDAY_9 + timedelta(minutes=1))
    built = make_runtime(database_url, clock, policy=policy_with_report(), migrate=False)
    with built.store.begin() as conn:
        ensure_scheduled(conn, built.policy.reports, MONDAY_9 - timedelta(hours=1))
    yield built
    built.store.dispose()


def sent_reports(runtime: Runtime) -> int:
    with runtime.store.connect() as conn:
        query = select(func.count()).select_from(outbox).where(outbox.c.incident_id.is_(None))
        return int(conn.execute(query).scalar_one())


def scheduler_of(runtime: Runtime, build: object = None) -> Scheduler:
    """Return a scheduler of the runtime's store firing only report timers."""
    fire = handler(lambda: runtime.policy, outbox_sender, build)  # type: ignore[arg-type]
    return Scheduler(runtime.store, {KIND: fire}, clock=runtime.clock)


def test_intake_commits_while_a_scheduled_report_is_built(runtime: Runtime) -> None:
    building, release = threading.Event(), threading.Event()

    def slow_build(
        conn: Connection, policy: Policy, schedule: ReportSchedule, until: datetime, now: datetime
    ) -> list[ReportMessage]:
        building.set()
        release.wait(WAIT)
        return report_messages(conn, policy, schedule, until, now)

    scheduler = scheduler_of(runtime, slow_build)
    fired: list[int] = []
    thread = threading.Thread(target=lambda: fired.append(scheduler.run_once()))
    thread.start()
    try:
        assert building.wait(WAIT)
        with TestClient(create_app(runtime, start_workers=False)) as client:
            alert = {"labels": {"alertname": "DiskFull", "instance": "db1"}}
            response = client.post("/api/v2/alerts", json=[alert], headers=bearer(INGEST))
        assert response.status_code == 200, response.text
        with runtime.store.connect() as conn:
            assert conn.execute(select(func.count()).select_from(incidents)).scalar_one() == 1
        assert sent_reports(runtime) == 0  # the report is still being built
    finally:
        release.set()
        thread.join(WAIT)
    assert fired == [1]
    assert sent_reports(runtime) == 1
    assert scheduler.run_once() == 0  # the next run is a week away
    assert sent_reports(runtime) == 1


def test_a_replica_dead_after_building_leaves_the_report_to_another_sent_once(
    runtime: Runtime,
) -> None:
    clock = runtime.clock
    assert isinstance(clock, FakeClock)
    dead, alive = scheduler_of(runtime), scheduler_of(runtime)
    claimed = dead._claim(clock.now)
    assert dead._prepare([timer_id for timer_id, _ in claimed])  # built, then it stalled
    assert alive.run_once() == 0  # the dead replica's lease holds
    clock.advance(seconds=31)
    assert alive.run_once() == 1
    dead._fire(claimed)  # it wakes after its lease: the timer already fired elsewhere
    assert sent_reports(runtime) == 1
