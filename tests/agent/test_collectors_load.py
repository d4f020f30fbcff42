from __future__ import annotations

from tocsin.agent.collectors.base import Reading
from tocsin.agent.collectors.load import LOAD1, LOAD5, LOAD15, PER_CPU, LoadCollector


def gauges(collector: LoadCollector) -> dict[str, float]:
    reading = Reading()
    collector.collect(reading)
    return {s.name: s.value for s in reading.gauges}


def test_load_per_cpu_divides_the_one_minute_load() -> None:
    assert gauges(LoadCollector(lambda: (3.0, 2.0, 1.0), lambda: 4)) == {
        LOAD1: 3.0,
        LOAD5: 2.0,
        LOAD15: 1.0,
        PER_CPU: 0.75,
    }


def test_unknown_cpu_count_leaves_out_load_per_cpu() -> None:
    assert PER_CPU not in gauges(LoadCollector(lambda: (3.0, 2.0, 1.0), lambda: None))
