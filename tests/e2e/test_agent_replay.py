"""A day-long bridge outage replayed into a real bridge: finished alerts page nobody.

The agent's clock is injected: a simulated day of alerts that fire and resolve while the bridge
is down, then the bridge (a real `tocsin-bridge serve`, on SQLite and PostgreSQL) comes up and
the backlog replays in batches. Only the alerts still firing open incidents.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.fakes import FakeClock
from tests.bridge.helpers import INGEST, OPERATOR
from tests.bridge.server import BridgeProcess
from tocsin.agent.deadletters import DeadLetters
from tocsin.agent.push import Receiver, WireAlert
from tocsin.agent.pusher import Pace, Pusher
from tocsin.agent.spool import Spool
from tocsin.bridge.cli.client import BridgeClient

pytestmark = pytest.mark.e2e
DAY = 86_400.0
STEP = 1800.0  # a round of alerts every 30 simulated minutes


@pytest.fixture
def bridge(tmp_path: Path, database_url: str) -> Iterator[BridgeProcess]:
    """A real bridge on SQLite and on PostgreSQL, started by the test."""
    process = BridgeProcess(tmp_path, database_url)
    yield process
    process.stop()


def alert(name: str, at: float, severity: str, ends_at: float | None = None) -> WireAlert:
    labels = (("alertname", name), ("instance", "web1"), ("severity", severity))
    return WireAlert(labels, (("summary", name),), at, ends_at)


def make_pusher(bridge: BridgeProcess, tmp_path: Path, clock: FakeClock) -> Pusher:
    return Pusher(
        Receiver(bridge.url, INGEST, timeout=10.0, clock=clock),
        Spool(tmp_path / "spool", 1 << 26, clock=clock),
        ttl=240.0,
        clock=clock,
        dead_letters=DeadLetters(tmp_path / "dead-letters.jsonl"),
        pace=Pace(max_batch=100, max_rate=400.0),
    )


def drain(pusher: Pusher, clock: FakeClock) -> None:
    for _ in range(500):
        if not pusher.spool.depth:
            return
        clock.advance(max(pusher.step(), 0.01))
    raise AssertionError(f"{pusher.spool.depth} entries never drained")


def test_a_day_of_finished_alerts_replays_as_resolved_and_pages_nobody(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    start = time.time() - DAY
    clock = FakeClock(start)
    pusher = make_pusher(bridge, tmp_path, clock)
    finished = []
    for round_number in range(int(DAY // STEP) - 1):
        at = start + round_number * STEP
        batch = [
            alert(f"Flap{round_number}x{index}", at, "critical" if index % 2 else "warning")
            for index in range(5)
        ]
        clock.now = at
        pusher.enqueue(batch)
        pusher.step()  # the bridge is down: refused, backed off
        clock.now = at + STEP / 2
        pusher.enqueue([WireAlert(a.labels, a.annotations, a.starts_at, clock.now) for a in batch])
        finished += batch
    still = [alert(f"Still{index}", start + DAY - 300, "critical") for index in range(3)]
    clock.now = start + DAY - 300
    pusher.enqueue(still)
    assert pusher.failures["connection"] > 0
    assert pusher.spool.collapsed_total == len(finished)
    assert pusher.spool.pending_alerts() == len(finished) + len(still)

    bridge.start()
    clock.now = time.time()
    drain(pusher, clock)

    total = len(finished) + len(still)
    assert pusher.alerts_sent_total == total
    assert pusher.sent_total <= total // 100 + 1  # many alerts per POST
    incidents = BridgeClient(bridge.url, OPERATOR, timeout=10).list_incidents(limit=1000)
    live = {
        i["labels"]["alertname"]
        for i in incidents["incidents"]
        if i["status"] in ("triggered", "acknowledged")
    }
    assert live == {a.labels[0][1] for a in still}


def test_a_bridge_rejection_dead_letters_only_the_invalid_alert(
    bridge: BridgeProcess, tmp_path: Path
) -> None:
    bridge.start()
    now = time.time()
    clock = FakeClock(now)
    pusher = make_pusher(bridge, tmp_path, clock)
    good = [alert(f"Good{index}", now - 60, "warning") for index in range(9)]
    broken = alert("Broken", now - 60, "warning", ends_at=now - 120)  # ends before it starts
    pusher.enqueue([*good[:4], broken, *good[4:]])
    drain(pusher, clock)
    (letter,) = pusher.dead_letters.letters()
    assert letter.alert == broken
    assert letter.reason == "http_400"
    assert "endsAt is before startsAt" in letter.detail
    incidents = BridgeClient(bridge.url, OPERATOR, timeout=10).list_incidents(limit=1000)
    assert {i["labels"]["alertname"] for i in incidents["incidents"]} == {
        a.labels[0][1] for a in good
    }
    pusher.refresh([*good, broken])
    pusher.step()
    assert pusher.withheld_total == 1
    assert len(pusher.dead_letters.letters()) == 1
