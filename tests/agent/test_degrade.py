"""A full disk costs persistence only: the cycle samples, evaluates, refreshes /metrics and
delivers from memory, counts what it could not write and raises TocsinAgentStorageFull.

The full disk is a real 2 MiB tmpfs filled with writes (root only; CI runs as root).
"""

from __future__ import annotations

import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.agent.fakes import Receiver, alertnames, fill
from tests.agent.test_daemon import CPU, Rig, make_config, watched_agent
from tocsin.agent.daemon import Agent
from tocsin.agent.rules import load_bundled_rules

STORAGE_FULL = next(r for r in load_bundled_rules() if r.name == "TocsinAgentStorageFull")
WATCHDOG = next(r for r in load_bundled_rules() if r.name == "TocsinAgentWatchdog")


def metric(agent: Agent, line_start: str) -> str:
    agent.exposition.refresh()
    body = agent.exposition.body(gzipped=False).decode()
    return next(line for line in body.splitlines() if line.startswith(line_start))


@pytest.fixture
def full_rig(small_disk: Path, receiver: Receiver) -> Iterator[tuple[Rig, Path]]:
    config = make_config(
        small_disk,
        receiver,
        rules=(CPU, STORAGE_FULL),
        state_dir=small_disk / "state",
    )
    rig = Rig(config)
    yield rig, small_disk
    rig.agent.stop()


def test_a_full_disk_still_delivers_alerts_and_raises_storage_full(
    full_rig: tuple[Rig, Path], receiver: Receiver
) -> None:
    rig, disk = full_rig
    rig.at(0, 0.95)
    fill(disk)
    rig.at(60, 0.95)
    assert alertnames(receiver.alerts()) == ["HostCpuHigh"]
    assert rig.agent.storage.failing
    rig.at(10, 0.95)
    assert "TocsinAgentStorageFull" in alertnames(receiver.alerts())
    rig.at(10, 0.5)
    resolved = [a for a in receiver.alerts() if a["labels"]["alertname"] == "HostCpuHigh"][-1]
    assert resolved["endsAt"] == "2023-11-14T22:14:40.000Z"
    assert metric(rig.agent, "tocsin_cpu_usage_ratio ") == "tocsin_cpu_usage_ratio 0.5"
    assert (
        float(metric(rig.agent, 'tocsin_agent_storage_failures_total{file="state"}').split()[1])
        >= 2
    )
    assert (
        float(metric(rig.agent, 'tocsin_agent_storage_failures_total{file="spool"}').split()[1])
        >= 2
    )
    assert metric(rig.agent, "tocsin_agent_storage_failing ") == "tocsin_agent_storage_failing 1.0"
    stamp = metric(rig.agent, "tocsin_agent_last_successful_cycle_timestamp_seconds ")
    assert float(stamp.split()[1]) == rig.clock.now
    healthy, text = rig.agent.health()
    assert healthy and "No space left on device" in text


def test_freed_space_spools_what_was_held_and_clears_the_condition(
    full_rig: tuple[Rig, Path], receiver: Receiver
) -> None:
    rig, disk = full_rig
    filler = fill(disk)
    rig.at(0, 0.95)
    rig.at(60, 0.95)
    spool = rig.agent.spool
    assert spool is not None
    # The spool held what the disk refused (bounded, in memory) and delivered it from there.
    assert spool.refused is not None and rig.agent.storage.failing
    filler.unlink()
    (disk / "crumbs").unlink()
    rig.at(10, 0.95)
    assert (len(rig.agent.held), spool.memory_held, spool.refused) == (0, 0, None)
    rig.at(10, 0.95)
    assert not rig.agent.storage.failing
    assert (disk / "state" / "alerts.json").exists()
    assert "TocsinAgentStorageFull" in alertnames(receiver.alerts())


def test_an_agent_starts_on_a_full_disk_instead_of_exiting(
    small_disk: Path, receiver: Receiver
) -> None:
    (small_disk / "state").mkdir()
    fill(small_disk)
    rig = Rig(
        make_config(small_disk, receiver, rules=(STORAGE_FULL,), state_dir=small_disk / "state")
    )
    try:
        rig.at(0, 0.1)
        rig.at(10, 0.1)
        assert alertnames(receiver.alerts()) == ["TocsinAgentStorageFull"]
    finally:
        rig.agent.stop()


def test_health_goes_stale_when_cycles_stop_completing(tmp_path: Path) -> None:
    rig = Rig(make_config(tmp_path, None, interval=10.0))
    try:
        assert rig.agent.health() == (False, "starting: no cycle completed yet")
        rig.at(0, 0.5)
        assert rig.agent.health() == (True, "ok")
        rig.monotonic.advance(31)
        assert rig.agent.health() == (False, "stale: the last cycle completed 31s ago")
    finally:
        rig.agent.stop()


class Broken:
    """A collector that fails every render, so no cycle completes."""

    def collect(self) -> Iterator[object]:
        raise RuntimeError("broken collector")


def test_failing_cycles_stop_the_watchdog_and_fail_healthz(tmp_path: Path) -> None:
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(address)
        listener.settimeout(0.5)
        agent = watched_agent(
            address, make_config(tmp_path, None, interval=0.05, listen=("127.0.0.1", 0))
        )
        agent.registry.register(Broken())  # type: ignore[arg-type]
        thread = threading.Thread(target=agent.run, daemon=True)
        thread.start()
        messages = []
        for _ in range(10):
            try:
                messages.append(listener.recv(4096).decode())
            except TimeoutError:
                break
        assert agent.server is not None
        with pytest.raises(urllib.error.HTTPError) as answer:
            urllib.request.urlopen(f"http://127.0.0.1:{agent.server.port}/healthz", timeout=5)
        answer.value.close()
        agent.request_stop()
        thread.join(5)
    assert answer.value.code == 503
    assert messages[0].startswith("READY=1")
    assert "WATCHDOG=1" not in messages


@pytest.mark.parametrize(("heartbeat", "pushed"), [(None, 2), (30.0, 0)])
def test_the_watchdog_alert_is_re_sent_unless_heartbeats_cover_it(
    tmp_path: Path, receiver: Receiver, heartbeat: float | None, pushed: int
) -> None:
    rig = Rig(make_config(tmp_path, receiver, rules=(WATCHDOG,), heartbeat=heartbeat))
    try:
        rig.at(0, 0.1)
        rig.at(61, 0.1)
    finally:
        rig.agent.stop()
    sent = [a for a in receiver.alerts() if a["labels"]["alertname"] == "TocsinAgentWatchdog"]
    assert len(sent) == pushed
    assert all(alert["endsAt"] > alert["startsAt"] for alert in sent)
