"""`serve` with `workers: 2`: two processes answer on one port, timers fire once, a crash stops all.

One real bridge on SQLite. Each worker process answers alone while the other is stopped
(SIGSTOP), which proves both serve the shared listener, and labels its /metrics samples with
its number; the SLA warning timer of a new incident fires exactly once, claimed by one of them.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from sqlalchemy import create_engine, func, select

from tests.bridge.helpers import OPERATOR, bearer
from tests.bridge.server import BridgeProcess
from tocsin.bridge.store.schema import events, timers

POLICY = """
priorities: {P1: {response: 4s, warn_at: 0.25}}
routes: [{priority: P1}]
"""


def _children(bridge: BridgeProcess) -> list[psutil.Process]:
    assert bridge.proc is not None
    deadline = time.monotonic() + 60
    while True:
        log = bridge.log_path.read_text()
        if "worker process 1/2" in log and "worker process 2/2" in log:
            return psutil.Process(bridge.proc.pid).children()
        assert time.monotonic() < deadline, f"both workers not listening in 60 s: {log[-2000:]}"
        time.sleep(0.1)


@pytest.fixture
def bridge(tmp_path: Path) -> Iterator[BridgeProcess]:
    (tmp_path / "policy.yml").write_text(POLICY)
    process = BridgeProcess(
        tmp_path,
        f"sqlite:///{tmp_path / 'tocsin.db'}",
        workers=2,
        log_level="info",  # the "listening" lines name each worker process
        policy=str(tmp_path / "policy.yml"),
    )
    process.start(timeout=60)
    try:
        yield process
    finally:
        process.stop()


def test_each_worker_process_answers_and_a_timer_fires_once(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    children = _children(bridge)
    assert len(children) == 2
    labels = set()
    for serving in children:
        paused = [child for child in children if child is not serving]
        for child in paused:
            child.send_signal(signal.SIGSTOP)
        try:
            # A new connection each time: the paused process cannot take it.
            ready, metrics = (
                requests.get(f"{bridge.url}{path}", headers={"Connection": "close"}, timeout=30)
                for path in ("/readyz", "/metrics")
            )
        finally:
            for child in paused:
                child.send_signal(signal.SIGCONT)
        assert ready.status_code == 200, f"worker pid {serving.pid}: {ready.text}"
        labels |= set(re.findall(r'worker="(\d)"', metrics.text))
    assert labels == {"1", "2"}  # each process labels its own samples
    response = requests.post(
        f"{bridge.url}/api/v1/incidents",
        json={"title": "db down", "priority": "P1"},
        headers=bearer(OPERATOR),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    incident = response.json()["id"]
    engine = create_engine(f"sqlite:///{tmp_path / 'tocsin.db'}")
    warning = select(timers.c.fired_at, timers.c.claimed_by).where(
        timers.c.incident_id == incident, timers.c.kind == "sla_warning"
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as conn:
                fired_at, claimed_by = conn.execute(warning).one()
            if fired_at is not None or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        time.sleep(2.0)  # two scheduler polls: a second firing, were there one, would be in
        with engine.connect() as conn:
            fired = conn.execute(
                select(func.count()).where(
                    events.c.incident_id == incident, events.c.kind == "incident.sla_warning"
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert fired_at is not None, "the warning timer never fired"
    assert fired == 1
    assert int(claimed_by.split(":")[1]) in {child.pid for child in children}


def test_a_worker_process_that_dies_stops_the_bridge(bridge: BridgeProcess) -> None:
    children = _children(bridge)
    os.kill(children[1].pid, signal.SIGKILL)
    assert bridge.proc is not None
    assert bridge.proc.wait(timeout=60) != 0  # so systemd's Restart=on-failure restarts it
    gone, alive = psutil.wait_procs(children, timeout=30)
    assert alive == []
