"""Block device I/O counters for whole disks, and how busy each disk was between two passes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple, Protocol

import psutil

from tocsin.agent.collectors.base import DeviceLabels, LastSeries, Reading, attempt, rate
from tocsin.agent.sample import Series

READ_BYTES = "tocsin_disk_read_bytes_total"
WRITTEN_BYTES = "tocsin_disk_written_bytes_total"
READS = "tocsin_disk_reads_completed_total"
WRITES = "tocsin_disk_writes_completed_total"
IO_TIME = "tocsin_disk_io_time_seconds_total"
BUSY = "tocsin_disk_busy_ratio"

HELP = {
    READ_BYTES: "Bytes read from the disk.",
    WRITTEN_BYTES: "Bytes written to the disk.",
    READS: "Reads the disk completed.",
    WRITES: "Writes the disk completed.",
    IO_TIME: "Seconds the disk spent doing I/O.",
    BUSY: "Fraction of time the disk was busy doing I/O since the last sample.",
}

# node_exporter's default: RAM, loop and floppy devices, and partitions (sda1, nvme0n1p1), which
# would count their disk's I/O twice; mmcblk0p1 partitions are excluded as well.
DEFAULT_EXCLUDED_DEVICES = r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]+|nvme\d+n\d+p|mmcblk\d+p)\d+$"


class DiskIO(Protocol):
    """The fields of one entry of psutil.disk_io_counters(perdisk=True) this collector reads."""

    @property
    def read_bytes(self) -> int: ...
    @property
    def write_bytes(self) -> int: ...
    @property
    def read_count(self) -> int: ...
    @property
    def write_count(self) -> int: ...


class DiskStats(NamedTuple):
    """One line of /proc/diskstats, in psutil's field names and units."""

    read_count: int
    write_count: int
    read_bytes: int
    write_bytes: int
    busy_time: int


# The kernel counts 512-byte sectors in /proc/diskstats, whatever the device's sector size.
SECTOR_BYTES = 512


def default_disk_io_counters(path: str = "/proc/diskstats") -> Mapping[str, DiskIO] | None:
    """Read every block device's counters in one pass over /proc/diskstats, or through psutil.

    psutil parses every field of every line and keeps wrap-around bookkeeping the agent does
    not need (Prometheus handles counter resets); reading the five fields used costs a third.
    """
    try:
        with open(path) as file:
            lines = file.read().splitlines()
    except FileNotFoundError:
        return psutil.disk_io_counters(perdisk=True, nowrap=False)
    disks: dict[str, DiskIO] = {}
    for line in lines:
        fields = line.split()
        # Fewer fields: a Linux 2.6 partition line, which the default filter drops anyway.
        if len(fields) >= 14:
            disks[fields[2]] = DiskStats(
                int(fields[3]),
                int(fields[7]),
                int(fields[5]) * SECTOR_BYTES,
                int(fields[9]) * SECTOR_BYTES,
                int(fields[12]),
            )
    return disks


class DiskCollector:
    """Read per-disk counters and derive the busy ratio from the change in I/O time."""

    def __init__(
        self,
        disk_io_counters: Callable[[], Mapping[str, DiskIO] | None] = default_disk_io_counters,
        exclude_devices: str | None = DEFAULT_EXCLUDED_DEVICES,
        include_devices: str | None = None,
    ) -> None:
        self._disk_io_counters = disk_io_counters
        self._labels_of = DeviceLabels(exclude_devices, include_devices)
        self._previous_busy: dict[str, float] = {}
        self._previous_at = 0.0
        self._last = LastSeries()

    def collect(self, reading: Reading, now: float) -> None:
        """Append five counters per kept disk and, from the second pass on, its busy ratio."""
        disks = attempt(self._disk_io_counters, "disk I/O counters", reading)
        if not disks:
            return
        elapsed = now - self._previous_at
        previous_busy = self._previous_busy
        busy_now: dict[str, float] = {}
        counters, gauges, labels_of = reading.counters, reading.gauges, self._labels_of
        last = self._last
        last.begin()
        for device, io in disks.items():
            labels = labels_of(device)
            if labels is None:
                continue
            counters += last.series(device, io, labels, _counters, io, labels)
            busy_ms = getattr(io, "busy_time", None)
            if busy_ms is None:
                continue
            busy = busy_ms / 1000.0
            busy_now[device] = busy
            before = previous_busy.get(device)
            if before is not None:
                ratio = rate(busy, before, elapsed)
                if ratio is not None:
                    gauges.append(Series(BUSY, labels, min(1.0, ratio)))
        self._previous_busy = busy_now
        self._previous_at = now
        last.end()


def _counters(io: DiskIO, labels: dict[str, str]) -> tuple[Series, ...]:
    """Return the counters of one disk's reading: I/O time too where the source has it."""
    made = (
        Series(READ_BYTES, labels, float(io.read_bytes)),
        Series(WRITTEN_BYTES, labels, float(io.write_bytes)),
        Series(READS, labels, float(io.read_count)),
        Series(WRITES, labels, float(io.write_count)),
    )
    busy_ms = getattr(io, "busy_time", None)
    return made if busy_ms is None else (*made, Series(IO_TIME, labels, busy_ms / 1000.0))
