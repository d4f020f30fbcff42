"""A bridge replica SIGKILLed while it holds claimed timers: another fires them, once, in time.

Two real `tocsin-bridge serve` processes share PostgreSQL. The test holds the incident's row
lock, so the replica that claims the incident's warning timer is caught between its claim
(committed, for one lease) and firing it. That replica is killed; the lock is let go. The
other replica fires the timer once the dead one's lease ends, within one poll (a tick).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select

from tests.bridge.helpers import OPERATOR, bearer
from tests.bridge.server import BridgeProcess
from tests.pg import create_database
from tocsin.bridge.platform.clock import as_utc, utcnow
from tocsin.bridge.store.schema import events, incidents, timers

pytestmark = pytest.mark.slow
LEASE = 3.0  # timer_lease
TICK = 1.0  # the scheduler's poll interval
SLACK = 1.5  # a loaded machine's pass: reading, locking and firing the timer
LIMITS = {"timer_lease": f"{LEASE:g}s", "statement_timeout": "2s", "busy_timeout": "1s"}
POLICY = """
priorities: {P1: {response: 4s, warn_at: 0.25}}
routes: [{priority: P1}]
"""


def _replica(tmp_path: Path, name: str, url: str) -> BridgeProcess:
    home = tmp_path / name
    home.mkdir()
    (home / "policy.yml").write_text(POLICY)
    return BridgeProcess(home, url, limits=LIMITS, policy=str(home / "policy.yml"))


def test_a_killed_replicas_claimed_timer_fires_on_another_within_a_lease_and_a_tick(
    tmp_path: Path, postgres_server: str
) -> None:
    url = create_database(postgres_server)
    one, two = _replica(tmp_path, "one", url), _replica(tmp_path, "two", url)
    engine = create_engine(url)
    try:
        one.start(timeout=60)
        two.start(timeout=60)
        response = requests.post(
            f"{one.url}/api/v1/incidents",
            json={"title": "db down", "priority": "P1"},
            headers=bearer(OPERATOR),
            timeout=30,
        )
        assert response.status_code == 201, response.text
        incident = response.json()["id"]
        with engine.connect() as blocker:
            blocker.begin()
            blocker.execute(
                select(incidents.c.id).where(incidents.c.id == incident).with_for_update()
            ).all()
            warning = (
                select(timers.c.id, timers.c.claimed_by, timers.c.claimed_until)
                .where(timers.c.incident_id == incident, timers.c.fired_at.is_(None))
                .order_by(timers.c.due_at)
                .limit(1)
            )
            deadline = time.monotonic() + 30
            while True:
                with engine.connect() as conn:
                    timer_id, owner, until = conn.execute(warning).one()
                if owner is not None or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert owner is not None, "no replica claimed the warning timer in 30 s"
            pid = int(owner.split(":")[1])
            doomed = next(r for r in (one, two) if r.proc is not None and r.proc.pid == pid)
            survivor = two if doomed is one else one
            doomed.kill()
            killed_at = utcnow()
            assert killed_at < as_utc(until), "the lease ran out before the kill"
            blocker.rollback()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                fired = conn.execute(
                    select(timers.c.fired_at).where(timers.c.id == timer_id)
                ).scalar_one()
            if fired is not None:
                break
            time.sleep(0.1)
        time.sleep(TICK)  # a second firing, if there were one, would be in by now
        with engine.connect() as conn:
            warnings = conn.execute(
                select(func.count()).where(
                    events.c.incident_id == incident, events.c.kind == "incident.sla_warning"
                )
            ).scalar_one()
        assert survivor.proc is not None and survivor.proc.poll() is None
    finally:
        one.stop()
        two.stop()
        engine.dispose()
    assert fired is not None, "the survivor never fired the dead replica's timer"
    assert warnings == 1
    late = (as_utc(fired) - as_utc(until)).total_seconds()
    since_kill = (as_utc(fired) - killed_at).total_seconds()
    assert late <= TICK + SLACK, f"fired {late:.2f}s after the dead replica's lease ended"
    assert since_kill <= LEASE + TICK + SLACK, f"fired {since_kill:.2f}s after the kill"
    assert late >= 0, "fired while the dead replica's lease still held it"
