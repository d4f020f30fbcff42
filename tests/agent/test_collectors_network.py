from __future__ import annotations

from pathlib import Path

import psutil

from tests.agent.fake_psutil import NetIO, failing
from tocsin.agent.collectors.base import Reading
from tocsin.agent.collectors.network import (
    RECEIVE,
    TRANSMIT,
    NetStats,
    NetworkCollector,
    default_net_io_counters,
)

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


NET_DEV = """\
Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    3193      29    0    0    0     0          0         0     3193      29    0    0    0     0       0          0
  eth0: 155540918    3275    0    0    0     0          0         0   159150    2094    0    0    0     0       0          0
"""


def test_net_dev_is_read_per_interface(tmp_path: Path) -> None:
    path = tmp_path / "dev"
    path.write_text(NET_DEV)
    assert default_net_io_counters(str(path)) == {
        "lo": NetStats(3193, 3193),
        "eth0": NetStats(155540918, 159150),
    }


def test_net_dev_reader_agrees_with_psutil_on_this_host() -> None:
    assert set(default_net_io_counters()) == set(psutil.net_io_counters(pernic=True))


def test_without_net_dev_psutil_answers(tmp_path: Path) -> None:
    found = default_net_io_counters(str(tmp_path / "absent"))
    assert set(found) == set(psutil.net_io_counters(pernic=True))


def test_an_idle_interface_passes_on_the_same_series_and_a_busy_one_new_values() -> None:
    readings = iter(
        [
            {"eth0": NetStats(10, 20), "eth1": NetStats(1, 2)},
            {"eth0": NetStats(10, 20), "eth1": NetStats(5, 2)},
        ]
    )
    collector = NetworkCollector(lambda: next(readings))
    first, second = Reading(), Reading()
    collector.collect(first)
    collector.collect(second)
    by = {(s.name, s.labels["device"]): s for s in first.counters}
    for series in second.counters:
        if series.labels["device"] == "eth0":
            assert series is by[(series.name, "eth0")]
        else:
            assert series is not by[(series.name, "eth1")]
    assert {s.name: s.value for s in second.counters if s.labels["device"] == "eth1"}[RECEIVE] == 5
