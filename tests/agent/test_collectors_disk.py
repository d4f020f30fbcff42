from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.agent.fake_psutil import BsdDiskIO, DiskIO, failing, scripted
from tocsin.agent.collectors.base import Reading
from tocsin.agent.collectors.disk import (
    BUSY,
    IO_TIME,
    READ_BYTES,
    DiskCollector,
    DiskStats,
    default_disk_io_counters,
)

IDLE = DiskIO(1, 2, 512, 1024, 0)


def collect(collector: DiskCollector, now: float) -> Reading:
    reading = Reading()
    collector.collect(reading, now)
    return reading


@pytest.mark.parametrize(
    ("device", "kept"),
    [
        ("sda", True),
        ("sda1", False),
        ("vdb", True),
        ("vdb3", False),
        ("xvda", True),
        ("xvda1", False),
        ("nvme0n1", True),
        ("nvme0n1p2", False),
        ("mmcblk0", True),
        ("mmcblk0p1", False),
        ("dm-0", True),
        ("md127", True),
        ("loop3", False),
        ("ram0", False),
        ("zram0", False),
        ("fd0", False),
    ],
)
def test_whole_disks_are_kept_partitions_and_virtual_devices_are_not(
    device: str, kept: bool
) -> None:
    reading = collect(DiskCollector(lambda: {device: IDLE}), 0.0)
    assert bool(reading.counters) is kept


def test_counters_are_exported_in_bytes_and_seconds() -> None:
    reading = collect(DiskCollector(lambda: {"sda": DiskIO(3, 4, 4096, 8192, 1500)}), 0.0)
    values = {s.name: s.value for s in reading.counters}
    assert values[READ_BYTES] == 4096
    assert values[IO_TIME] == 1.5
    assert reading.gauges == []


def test_busy_ratio_is_io_time_over_elapsed_time() -> None:
    disks = scripted([{"sda": DiskIO(0, 0, 0, 0, 1000)}, {"sda": DiskIO(0, 0, 0, 0, 3500)}])
    collector = DiskCollector(disks)
    collect(collector, 100.0)
    busy = [s for s in collect(collector, 110.0).gauges if s.name == BUSY]
    assert [(s.labels["device"], s.value) for s in busy] == [("sda", 0.25)]


def test_a_disk_appearing_has_no_busy_ratio_until_its_second_pass() -> None:
    disks = scripted([{}, {"sdb": IDLE}])
    collector = DiskCollector(disks)
    collect(collector, 0.0)
    assert collect(collector, 10.0).gauges == []


def test_platform_without_busy_time_still_exports_counters() -> None:
    reading = collect(DiskCollector(lambda: {"disk0": BsdDiskIO(1, 2, 3, 4)}), 0.0)
    assert len(reading.counters) == 4
    assert IO_TIME not in {s.name for s in reading.counters}


@pytest.mark.parametrize("answer", [None, {}])
def test_host_without_disks_exports_nothing(answer: dict[str, DiskIO] | None) -> None:
    reading = collect(DiskCollector(lambda: answer), 0.0)
    assert (reading.counters, reading.gauges, reading.notes) == ([], [], [])


def test_container_without_diskstats_is_noted() -> None:
    reading = collect(DiskCollector(failing(NotImplementedError("no /proc/diskstats"))), 0.0)  # type: ignore[arg-type]
    assert reading.notes == ["disk I/O counters unavailable: no /proc/diskstats"]


DISKSTATS = """\
   8       0 sda 100 5 2000 30 200 10 4000 50 0 1500 80 0 0 0 0
   8       1 sda1 7 14 3 6
 259       0 nvme0n1 1 0 8 0 2 0 16 0 0 3 0 0 0 0 0 0 0
"""


def test_diskstats_are_read_in_bytes_and_milliseconds(tmp_path: Path) -> None:
    path = tmp_path / "diskstats"
    path.write_text(DISKSTATS)
    assert default_disk_io_counters(str(path)) == {
        "sda": DiskStats(100, 200, 2000 * 512, 4000 * 512, 1500),
        "nvme0n1": DiskStats(1, 2, 8 * 512, 16 * 512, 3),
    }


def test_diskstats_reader_agrees_with_psutil_on_this_host() -> None:
    ours = default_disk_io_counters()
    assert ours is not None
    assert set(ours) == set(psutil.disk_io_counters(perdisk=True, nowrap=False) or {})


def test_without_diskstats_psutil_answers(tmp_path: Path) -> None:
    try:
        expected = psutil.disk_io_counters(perdisk=True, nowrap=False)
    except NotImplementedError:
        pytest.skip("psutil has no disk counters here either")
    found = default_disk_io_counters(str(tmp_path / "absent"))
    assert set(found or {}) == set(expected or {})


def test_an_idle_disk_passes_on_the_same_counters_and_a_busy_one_new_values() -> None:
    collector = DiskCollector(
        scripted([{"sda": IDLE}, {"sda": IDLE}, {"sda": IDLE._replace(read_bytes=4096)}])
    )
    first, second, third = (collect(collector, now) for now in (0.0, 10.0, 20.0))
    assert second.counters == first.counters
    assert all(a is b for a, b in zip(first.counters, second.counters, strict=True))
    assert {s.name: s.value for s in third.counters}[READ_BYTES] == 4096
    assert [s.value for s in second.gauges if s.name == BUSY] == [0.0]
