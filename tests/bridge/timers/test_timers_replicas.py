"""Real processes, real PostgreSQL, real time: replicas share timers, and a restart loses none."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.bridge.replica import fires, fires_metadata
from tests.bridge.sla.harness import event_data, make_runtime, scheduler
from tests.pg import create_database
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata, timers
from tocsin.bridge.timers.rows import schedule
from tocsin.bridge.timers.scheduler import Scheduler

ROOT = Path(__file__).resolve().parents[3]
pytestmark = pytest.mark.slow


def replica(url: str, name: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.bridge.replica", url, name, "90"],
        cwd=ROOT,
        env=os.environ.copy(),
    )


def test_two_replica_processes_fire_every_timer_once_even_when_one_is_killed(
    postgres_server: str,
) -> None:
    url = create_database(postgres_server)
    store = Store(url)
    metadata.create_all(store.engine)
    fires_metadata.create_all(store.engine)
    alive, doomed = replica(url, "alive"), replica(url, "doomed")
    # Timers fall due from 3 s on (both replicas have started by then) over 4.5 s.
    start = utcnow() + timedelta(seconds=3)
    with store.begin() as conn:
        for index in range(1500):
            schedule(conn, "count", start + timedelta(milliseconds=3 * index), now=utcnow())
    try:
        time.sleep(5.0)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(5)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with store.connect() as conn:
                left = Scheduler.count_pending(conn)
            if left == 0:
                break
            time.sleep(0.2)
        with store.connect() as conn:
            per_timer = dict(
                conn.execute(
                    select(fires.c.timer_id, func.count()).group_by(fires.c.timer_id)
                ).all()
            )
            by_replica = dict(
                conn.execute(select(fires.c.replica, func.count()).group_by(fires.c.replica)).all()
            )
            unfired = conn.execute(select(func.count()).where(timers.c.fired_at.is_(None))).scalar()
    finally:
        alive.kill()
        alive.wait(5)
        store.dispose()
    assert unfired == 0
    assert len(per_timer) == 1500 and set(per_timer.values()) == {1}
    assert by_replica.get("doomed", 0) > 0 and by_replica["alive"] > 0


POLICY = """
priorities: {P1: {response: 2s, warn_at: 0.5}}
routes: [{priority: P1}]
"""


def test_deadline_passing_while_the_bridge_is_down_fires_at_restart_marked_late(
    sqlite_url: str,
) -> None:
    from tocsin.bridge.platform.clock import utcnow as real_clock

    first = make_runtime(sqlite_url, policy=POLICY)
    first.clock = real_clock
    scheduler(first).clock = real_clock
    first.start()
    incident = first.incidents.create(title="db down", priority="P1", actor="desk")
    time.sleep(1.3)  # the warning at 1 s fires while the bridge runs
    first.stop()
    time.sleep(1.5)  # the 2 s deadline passes while no bridge is running
    second = make_runtime(sqlite_url, policy=POLICY)
    scheduler(second).clock = real_clock
    second.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not event_data(
            second, incident, "incident.sla_breached"
        ):
            time.sleep(0.05)
    finally:
        second.stop()
    assert len(event_data(second, incident, "incident.sla_warning")) == 1
    [breach] = event_data(second, incident, "incident.sla_breached")
    assert breach["late_seconds"] > 0
