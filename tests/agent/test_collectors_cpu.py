from __future__ import annotations

import pytest

from tests.agent.fake_psutil import CpuTimes, failing, scripted
from tocsin.agent.collectors.base import Reading
from tocsin.agent.collectors.cpu import IOWAIT, SECONDS, USAGE, CpuCollector


def collect(collector: CpuCollector) -> Reading:
    reading = Reading()
    collector.collect(reading)
    return reading


def test_first_pass_has_counters_but_no_ratios() -> None:
    reading = collect(CpuCollector(scripted([CpuTimes(10, 5, 80, 5)])))
    assert {s.labels["mode"]: s.value for s in reading.counters} == {
        "user": 10,
        "system": 5,
        "idle": 80,
        "iowait": 5,
    }
    assert all(s.name == SECONDS for s in reading.counters)
    assert reading.gauges == []


@pytest.mark.parametrize(
    ("second", "usage", "iowait"),
    [
        (CpuTimes(20, 10, 160, 10), 0.15, 0.05),
        (CpuTimes(10, 5, 180, 5), 0.0, 0.0),
        (CpuTimes(70, 45, 80, 5), 1.0, 0.0),
        (CpuTimes(10, 5, 80, 105), 0.0, 1.0),
    ],
)
def test_ratios_come_from_the_change_between_passes(
    second: CpuTimes, usage: float, iowait: float
) -> None:
    collector = CpuCollector(scripted([CpuTimes(10, 5, 80, 5), second]))
    collect(collector)
    gauges = {s.name: s.value for s in collect(collector).gauges}
    assert gauges[USAGE] == pytest.approx(usage)
    assert gauges[IOWAIT] == pytest.approx(iowait)


def test_guest_time_is_not_exported_twice() -> None:
    reading = collect(CpuCollector(scripted([CpuTimes(10, 5, 80, 5, guest=3)])))
    assert "guest" not in {s.labels["mode"] for s in reading.counters}


def test_counters_going_back_give_no_ratio() -> None:
    collector = CpuCollector(scripted([CpuTimes(10, 5, 80, 5), CpuTimes(1, 1, 1, 1)]))
    collect(collector)
    assert collect(collector).gauges == []


def test_missing_cpu_times_are_noted_not_raised() -> None:
    reading = collect(CpuCollector(failing(FileNotFoundError("/proc/stat"))))
    assert reading.counters == []
    assert reading.notes == ["CPU times unavailable: /proc/stat"]
