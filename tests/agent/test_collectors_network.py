from __future__ import annotations

from agent.collectors.base import Reading
from agent.collectors.network import RECEIVE, TRANSMIT, NetworkCollector
from tests.agent.fake_psutil import NetIO, failing

INTERFACES = {"lo": NetIO(5, 5), "eth0": NetIO(100, 200), "veth1": NetIO(1, 2)}


def counters(collector: NetworkCollector) -> dict[tuple[str, str], float]:
    reading = Reading()
    collector.collect(reading)
    return {(s.name, s.labels["device"]): s.value for s in reading.counters}


def test_interfaces_but_loopback_are_counted() -> None:
    assert counters(NetworkCollector(lambda: INTERFACES)) == {
        (RECEIVE, "eth0"): 200,
        (TRANSMIT, "eth0"): 100,
        (RECEIVE, "veth1"): 2,
        (TRANSMIT, "veth1"): 1,
    }


def test_include_pattern_keeps_only_matching_interfaces() -> None:
    found = counters(NetworkCollector(lambda: INTERFACES, include_interfaces=r"^eth"))
    assert {device for _, device in found} == {"eth0"}


def test_missing_network_counters_are_noted() -> None:
    reading = Reading()
    NetworkCollector(failing(FileNotFoundError("/proc/net/dev"))).collect(reading)  # type: ignore[arg-type]
    assert reading.counters == []
    assert reading.notes == ["network counters unavailable: /proc/net/dev"]
