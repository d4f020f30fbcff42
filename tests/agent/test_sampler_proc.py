"""A malformed /proc file costs its collector only: an error series and a log line, never the pass.

The sampler reads a fake proc root: copies of this host's files, one of them broken as a
bind mount of /dev/null or a kernel bug would break it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tocsin.agent.sample import Sample
from tocsin.agent.sampler import Sampler

GOOD = {
    "stat": "cpu  100 2 50 800 10 0 3 0 0 0\ncpu0 100 2 50 800 10 0 3 0 0 0\n",
    "meminfo": (
        "MemTotal:        1000 kB\nMemFree:          100 kB\nMemAvailable:     250 kB\n"
        "SwapTotal:        400 kB\nSwapFree:         300 kB\n"
    ),
    "diskstats": "   8       0 sda 10 0 80 5 20 0 160 9 0 30 14 0 0 0 0\n",
    "net/dev": (
        "Inter-|   Receive\n face |bytes\n  eth0: 1000 10 0 0 0 0 0 0 2000 20 0 0 0 0 0 0\n"
    ),
}


def proc_root(tmp_path: Path, **broken: str) -> str:
    root = tmp_path / "proc"
    for name, text in {**GOOD, **broken}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root)


def one_pass(root: str) -> Sample:
    sampler = Sampler(proc_root=root, disk_partitions=lambda: [], getloadavg=lambda: (1, 1, 1))
    try:
        return sampler.sample()
    finally:
        sampler.close()


def values(sample: Sample, name: str) -> dict[str, float]:
    found = [*sample.gauges, *sample.counters]
    return {s.labels["collector"]: s.value for s in found if s.name == name}


def test_a_good_proc_root_is_read_by_every_collector(tmp_path: Path) -> None:
    sample = one_pass(proc_root(tmp_path))
    assert [s.value for s in sample.gauge("tocsin_memory_used_ratio")] == [0.75]
    assert set(values(sample, "tocsin_agent_collector_success").values()) == {1.0}
    assert set(values(sample, "tocsin_agent_collector_errors_total").values()) == {0.0}


@pytest.mark.parametrize(
    ("file", "text", "collector", "lost", "kept"),
    [
        ("meminfo", "", "memory", "tocsin_memory_used_ratio", "tocsin_cpu_seconds_total"),
        ("stat", "", "cpu", "tocsin_cpu_seconds_total", "tocsin_memory_used_ratio"),
        ("stat", "cpu  x y z w v\n", "cpu", "tocsin_cpu_seconds_total", "tocsin_load1"),
        ("diskstats", "   8 0 sda x\n" * 2 + "8 0 sdb " + "z " * 14, "disk", "", "tocsin_load1"),
        ("net/dev", "a\nb\n eth0: 1 2 3 4 5 6 7 8 nine\n", "network", "", "tocsin_load1"),
    ],
)
def test_a_garbled_proc_file_costs_only_its_collector(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    file: str,
    text: str,
    collector: str,
    lost: str,
    kept: str,
) -> None:
    with caplog.at_level(logging.WARNING, logger="tocsin.agent.sampler"):
        sample = one_pass(proc_root(tmp_path, **{file: text}))
    series = {s.name for s in (*sample.gauges, *sample.counters)}
    assert kept in series and lost not in series
    assert values(sample, "tocsin_agent_collector_success")[collector] == 0.0
    assert values(sample, "tocsin_agent_collector_errors_total")[collector] == 1.0
    healthy = values(sample, "tocsin_agent_collector_success")
    assert sum(healthy.values()) == len(healthy) - 1
    (line,) = [r.getMessage() for r in caplog.records]
    assert collector in line.lower()


def test_errors_count_up_pass_after_pass_and_are_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sampler = Sampler(
        proc_root=proc_root(tmp_path, meminfo=""),
        disk_partitions=lambda: [],
        getloadavg=lambda: (1, 1, 1),
    )
    with caplog.at_level(logging.WARNING, logger="tocsin.agent.sampler"):
        samples = [sampler.sample() for _ in range(3)]
    sampler.close()
    assert values(samples[-1], "tocsin_agent_collector_errors_total")["memory"] == 3.0
    assert len(caplog.records) == 1
