from __future__ import annotations

import logging

import pytest

from tests.agent.fake_psutil import (
    MEMORY,
    Clock,
    CpuTimes,
    DiskIO,
    NetIO,
    Partition,
    Usage,
    failing,
    scripted,
)
from tocsin.agent.collectors.memory import MemoryInfo
from tocsin.agent.collectors.timex import Timex
from tocsin.agent.sample import Sample
from tocsin.agent.sampler import Sampler, sample_with_rates

NO_DELTA_GAUGES = {
    "tocsin_memory_used_ratio",
    "tocsin_load1",
    "tocsin_load5",
    "tocsin_load15",
    "tocsin_load_per_cpu",
    "tocsin_filesystem_used_ratio",
    "tocsin_filesystem_stuck",
    "tocsin_filesystem_device_error",
    "tocsin_agent_collector_success",
    "tocsin_timex_offset_seconds",
    "tocsin_timex_sync_status",
    "tocsin_timex_maxerror_seconds",
    "tocsin_timex_estimated_error_seconds",
}
RATE_GAUGES = {"tocsin_cpu_usage_ratio", "tocsin_cpu_iowait_ratio", "tocsin_disk_busy_ratio"}
COUNTERS = {
    "tocsin_cpu_seconds_total",
    "tocsin_disk_read_bytes_total",
    "tocsin_disk_written_bytes_total",
    "tocsin_disk_reads_completed_total",
    "tocsin_disk_writes_completed_total",
    "tocsin_disk_io_time_seconds_total",
    "tocsin_network_receive_bytes_total",
    "tocsin_network_transmit_bytes_total",
    "tocsin_agent_collector_errors_total",
}


def fake_sampler(clock: Clock, **overrides: object) -> Sampler:
    options: dict[str, object] = {
        "clock": clock,
        "wall": lambda: 1_700_000_000.0,
        "cpu_times": scripted([CpuTimes(10, 5, 80, 5), CpuTimes(20, 10, 160, 10)]),
        "memory_info": lambda: MEMORY,
        "getloadavg": lambda: (1.0, 0.5, 0.25),
        "cpu_count": lambda: 2,
        "disk_io_counters": scripted(
            [
                {"sda": DiskIO(1, 1, 512, 512, 0), "sda1": DiskIO(1, 1, 512, 512, 0)},
                {"sda": DiskIO(2, 2, 1024, 1024, 5000)},
            ]
        ),
        "net_io_counters": lambda: {"eth0": NetIO(10, 20)},
        "disk_partitions": lambda: [
            Partition("/dev/sda1", "/", "ext4"),
            Partition("proc", "/proc", "proc"),
        ],
        "disk_usage": lambda _: Usage(used=40, free=60),
        "adjtimex": lambda: Timex(0, 0.001, 0.01, 0.001),
        # Read the host's /proc/stat, vmstat, pressure and mdstat; test_collectors_kernel fakes them.
        "disabled": ("kernel", "mdadm"),
    }
    options.update(overrides)
    return Sampler(**options)  # type: ignore[arg-type]


def names(series: tuple[object, ...]) -> set[str]:
    return {one.name for one in series}  # type: ignore[attr-defined]


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_first_sample_has_counters_and_the_gauges_that_need_no_delta(clock: Clock) -> None:
    sample = fake_sampler(clock).sample()
    assert names(sample.counters) == COUNTERS
    assert names(sample.gauges) == NO_DELTA_GAUGES
    assert sample.taken_at == 1_700_000_000.0


def test_second_sample_adds_the_rates(clock: Clock) -> None:
    sampler = fake_sampler(clock)
    sampler.sample()
    clock.now += 10
    sample = sampler.sample()
    assert names(sample.gauges) == NO_DELTA_GAUGES | RATE_GAUGES
    assert [s.value for s in sample.gauge("tocsin_disk_busy_ratio")] == [0.5]
    assert [s.value for s in sample.gauge("tocsin_cpu_usage_ratio")] == [pytest.approx(0.15)]


def test_partitions_and_pseudo_filesystems_are_left_out(clock: Clock) -> None:
    sample = fake_sampler(clock).sample()
    devices = {s.labels["device"] for s in sample.counters if s.name.startswith("tocsin_disk")}
    assert devices == {"sda"}
    assert [s.labels["mountpoint"] for s in sample.gauge("tocsin_filesystem_used_ratio")] == ["/"]


def test_host_missing_every_source_gives_an_empty_sample_with_notes(clock: Clock) -> None:
    gone = failing(FileNotFoundError("gone"))
    sample = fake_sampler(
        clock,
        cpu_times=gone,
        memory_info=gone,
        getloadavg=gone,
        disk_io_counters=gone,
        net_io_counters=gone,
        disk_partitions=gone,
        adjtimex=gone,
    ).sample()
    assert names(sample.gauges) == {"tocsin_agent_collector_success"}
    assert {s.value for s in sample.gauges} == {0.0}
    assert names(sample.counters) == {"tocsin_agent_collector_errors_total"}
    assert len(sample.notes) == 7


def test_a_missing_source_is_logged_once(clock: Clock, caplog: pytest.LogCaptureFixture) -> None:
    sampler = fake_sampler(clock, memory_info=failing(PermissionError("meminfo")))
    with caplog.at_level(logging.WARNING, logger="tocsin.agent.sampler"):
        for _ in range(3):
            sampler.sample()
    assert [r.getMessage() for r in caplog.records] == ["memory unavailable: meminfo"]


def test_duration_is_measured_on_the_injected_clock() -> None:
    ticks = scripted([100.0, 100.25])
    sample = fake_sampler(ticks).sample()  # type: ignore[arg-type]
    assert sample.duration_seconds == 0.25


def test_sample_with_rates_waits_between_two_passes(clock: Clock) -> None:
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock.now += seconds

    sample = sample_with_rates(fake_sampler(clock), pause=1.0, sleep=sleep)
    assert waits == [1.0]
    assert isinstance(sample, Sample)
    assert RATE_GAUGES <= names(sample.gauges)


def test_memory_gauge_reflects_the_injected_reading(clock: Clock) -> None:
    info = MemoryInfo(total=100, available=10, swap_total=50, swap_used=5)
    sample = fake_sampler(clock, memory_info=lambda: info).sample()
    assert [s.value for s in sample.gauge("tocsin_memory_used_ratio")] == [0.9]
    assert [s.value for s in sample.gauge("tocsin_swap_used_ratio")] == [0.1]


def test_a_problem_that_clears_and_returns_is_logged_again(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    meminfo = scripted([PermissionError("meminfo"), MEMORY, PermissionError("meminfo")])

    def memory_info() -> MemoryInfo:
        answer = meminfo()
        if isinstance(answer, Exception):
            raise answer
        return answer

    sampler = fake_sampler(clock, memory_info=memory_info)
    with caplog.at_level(logging.WARNING, logger="tocsin.agent.sampler"):
        for _ in range(3):
            sampler.sample()
    assert [r.getMessage() for r in caplog.records] == ["memory unavailable: meminfo"] * 2
