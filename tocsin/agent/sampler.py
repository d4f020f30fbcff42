"""One psutil pass over the host, turned into a Sample: counters as read, rates from deltas."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

import psutil

from tocsin.agent.collectors.base import COLLECTOR_ERRORS, COLLECTOR_SUCCESS, Reading
from tocsin.agent.collectors.cpu import CpuCollector, CpuTimes, read_cpu_times
from tocsin.agent.collectors.disk import DEFAULT_EXCLUDED_DEVICES, DiskCollector, DiskIO
from tocsin.agent.collectors.disk import default_disk_io_counters as _disk_io_counters
from tocsin.agent.collectors.filesystem import (
    DEFAULT_EXCLUDED_FSTYPES,
    DEFAULT_EXCLUDED_MOUNTPOINTS,
    DEFAULT_NETWORK_FSTYPES,
    FilesystemCollector,
    Partition,
)
from tocsin.agent.collectors.filesystem import default_disk_partitions as _disk_partitions
from tocsin.agent.collectors.kernel import KernelCollector
from tocsin.agent.collectors.load import LoadCollector
from tocsin.agent.collectors.mdadm import MdadmCollector
from tocsin.agent.collectors.memory import MemoryCollector, MemoryInfo, read_memory
from tocsin.agent.collectors.network import DEFAULT_EXCLUDED_INTERFACES, NetIO, NetworkCollector
from tocsin.agent.collectors.network import default_net_io_counters as _net_io_counters
from tocsin.agent.collectors.statfs import DiskUsage, read_statvfs
from tocsin.agent.collectors.systemd import SystemdCollector, failed_units
from tocsin.agent.collectors.textfile import TextfileCollector
from tocsin.agent.collectors.timex import Timex, TimexCollector, kernel_adjtimex
from tocsin.agent.sample import Sample, Series

log = logging.getLogger(__name__)
T = TypeVar("T")
# The collectors a config may switch off, in the order they run; textfile runs when configured.
COLLECTORS = (
    "cpu",
    "memory",
    "load",
    "disk",
    "network",
    "filesystem",
    "timex",
    "kernel",
    "mdadm",
    "systemd",
    "textfile",
)
KERNEL_ADJTIMEX = kernel_adjtimex()
# Where systemd is the init system (sd_booted's test), ask it for failed units.
SYSTEMD_UNITS = failed_units if os.path.isdir("/run/systemd/system") else None


class Sampler:
    """Measure the host once per call; every psutil function and clock can be replaced in tests.

    Filesystem selection (the config maps its keys to these):
      include_fstypes     types to watch even though excluded below, e.g. {"nfs4", "tmpfs"};
                          this is how network filesystems are turned on.
      exclude_fstypes     pseudo and memory-backed types never watched
                          (default DEFAULT_EXCLUDED_FSTYPES: proc, sysfs, tmpfs, overlay, ...).
      network_fstypes     types skipped unless in include_fstypes, because statvfs can hang on
                          them (default DEFAULT_NETWORK_FSTYPES: nfs, cifs, ceph, ...; any
                          fuse.* type counts as one too).
      exclude_mountpoints regular expression of mountpoints never watched, or None
                          (default: /dev, /proc, /sys, container runtimes' private mounts).
      fs_timeout          seconds statvfs on a network or FUSE filesystem may take before the
                          mount is marked stuck (tocsin_filesystem_stuck) and skipped until
                          it answers; filesystems on local block devices answer from memory
                          and are read directly.
      mount_refresh_seconds  how long the mount list is reused before it is read again.
    adjtimex            reads the kernel's clock state (offset, sync status); None on systems
                          without adjtimex.
    proc_root           where the kernel's /proc is; the CPU, memory, disk and network readers
                          read their files under it (a fake tree in tests).
    disabled            names of collectors not to run (collectors.names.COLLECTORS).
    textfile_directory  a directory of *.prom files to publish, or None for no textfile collector.
    systemd_units       how to list failed systemd units (seconds of timeout -> names), or None
                          where systemd is not the init system (the default finds out).
    Devices and interfaces:
      exclude_devices / include_devices        regular expressions on disk names (default
                          excludes partitions, loop, ram and zram devices, as node_exporter does).
      exclude_interfaces / include_interfaces  regular expressions on interface names
                          (default excludes lo).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        proc_root: str = "/proc",
        cpu_times: Callable[[], CpuTimes] | None = None,
        memory_info: Callable[[], MemoryInfo] | None = None,
        getloadavg: Callable[[], tuple[float, float, float]] = psutil.getloadavg,
        cpu_count: Callable[[], int | None] = psutil.cpu_count,
        disk_io_counters: Callable[[], Mapping[str, DiskIO] | None] | None = None,
        net_io_counters: Callable[[], Mapping[str, NetIO]] | None = None,
        disk_partitions: Callable[[], Sequence[Partition]] = _disk_partitions,
        disk_usage: Callable[[str], DiskUsage] = read_statvfs,
        adjtimex: Callable[[], Timex] | None = KERNEL_ADJTIMEX,
        fs_timeout: float = 2.0,
        mount_refresh_seconds: float = 60.0,
        include_fstypes: Collection[str] = (),
        exclude_fstypes: Collection[str] = DEFAULT_EXCLUDED_FSTYPES,
        network_fstypes: Collection[str] = DEFAULT_NETWORK_FSTYPES,
        exclude_mountpoints: str | None = DEFAULT_EXCLUDED_MOUNTPOINTS,
        exclude_devices: str | None = DEFAULT_EXCLUDED_DEVICES,
        include_devices: str | None = None,
        exclude_interfaces: str | None = DEFAULT_EXCLUDED_INTERFACES,
        include_interfaces: str | None = None,
        disabled: Collection[str] = (),
        textfile_directory: str | None = None,
        systemd_units: Callable[[float], list[str]] | None = SYSTEMD_UNITS,
    ) -> None:
        self._clock = clock
        self._wall = wall
        under = functools.partial(_under, proc_root)
        self._cpu = CpuCollector(cpu_times or under(read_cpu_times, "stat"))
        self._memory = MemoryCollector(memory_info or under(read_memory, "meminfo"))
        self._load = LoadCollector(getloadavg, cpu_count)
        self._disk = DiskCollector(
            disk_io_counters or under(_disk_io_counters, "diskstats"),
            exclude_devices,
            include_devices,
        )
        self._network = NetworkCollector(
            net_io_counters or under(_net_io_counters, "net/dev"),
            exclude_interfaces,
            include_interfaces,
        )
        self._filesystem = FilesystemCollector(
            disk_partitions,
            disk_usage,
            fs_timeout=fs_timeout,
            mount_refresh_seconds=mount_refresh_seconds,
            include_fstypes=include_fstypes,
            exclude_fstypes=exclude_fstypes,
            network_fstypes=network_fstypes,
            exclude_mountpoints=exclude_mountpoints,
        )
        self._timex = TimexCollector(adjtimex)
        kernel = KernelCollector(proc_root)
        mdadm = MdadmCollector(proc_root)
        self._noted: frozenset[str] = frozenset()
        every: tuple[tuple[str, Callable[[Reading, float], None]], ...] = (
            ("cpu", lambda reading, now: self._cpu.collect(reading)),
            ("memory", lambda reading, now: self._memory.collect(reading)),
            ("load", lambda reading, now: self._load.collect(reading)),
            ("disk", self._disk.collect),
            ("network", lambda reading, now: self._network.collect(reading)),
            ("filesystem", self._filesystem.collect),
            ("timex", lambda reading, now: self._timex.collect(reading)),
            ("kernel", lambda reading, now: kernel.collect(reading)),
            ("mdadm", lambda reading, now: mdadm.collect(reading)),
        )
        if systemd_units is not None:
            every += (("systemd", SystemdCollector(systemd_units).collect),)
        if textfile_directory is not None:
            textfile = TextfileCollector(textfile_directory)
            every += (("textfile", lambda reading, now: textfile.collect(reading)),)
        self._collectors = tuple(entry for entry in every if entry[0] not in disabled)
        self._errors: Counter[str] = Counter({name: 0 for name, _ in self._collectors})
        # The same Series objects pass after pass while nothing changes.
        labels = {name: {"collector": name} for name, _ in self._collectors}
        self._success = {
            name: (Series(COLLECTOR_SUCCESS, each, 0.0), Series(COLLECTOR_SUCCESS, each, 1.0))
            for name, each in labels.items()
        }
        self._error_series = {
            name: Series(COLLECTOR_ERRORS, each, 0.0) for name, each in labels.items()
        }

    def sample(self) -> Sample:
        """Take one pass; the first has counters and the gauges that need no previous reading."""
        started = self._clock()
        taken_at = self._wall()
        reading = Reading()
        for name, collect in self._collectors:
            ok = self._collect(name, collect, reading, started)
            reading.gauges.append(self._success[name][ok])
            errors = self._error_series[name]
            if errors.value != self._errors[name]:
                errors = self._error_series[name] = replace(errors, value=self._errors[name])
            reading.counters.append(errors)
        notes = tuple(reading.notes)
        if notes or self._noted:
            self._log_new(notes)
        return Sample(
            taken_at=taken_at,
            gauges=tuple(reading.gauges),
            counters=tuple(reading.counters),
            duration_seconds=self._clock() - started,
            notes=notes,
        )

    def _collect(
        self, name: str, collect: Callable[[Reading, float], None], reading: Reading, now: float
    ) -> bool:
        """Run one collector; a fault (a garbled /proc file) costs its series, not the pass."""
        gauges, counters, failures = len(reading.gauges), len(reading.counters), reading.failures
        try:
            collect(reading, now)
        except Exception as exc:  # any parse fault of any kernel file: keep the other collectors
            del reading.gauges[gauges:]
            del reading.counters[counters:]
            reading.notes.append(f"{name} collector failed: {type(exc).__name__}: {exc}")
            self._errors[name] += 1
            return False
        if reading.failures > failures:
            self._errors[name] += 1
            return False
        return True

    def close(self) -> None:
        """Stop the filesystem worker thread."""
        self._filesystem.close()

    def _log_new(self, notes: tuple[str, ...]) -> None:
        # A missing source or a stuck mount stays so pass after pass: log it when it appears,
        # not every 10 seconds, and again only if it goes away and comes back.
        for note in notes:
            if note not in self._noted:
                log.warning("%s", note)
        self._noted = frozenset(notes)


def _under(root: str, reader: Callable[[str], T], name: str) -> Callable[[], T]:
    """Bind a /proc file reader to its file under `root`."""
    return functools.partial(reader, f"{root}/{name}")


def sample_with_rates(
    sampler: Sampler, pause: float = 1.0, sleep: Callable[[float], None] = time.sleep
) -> Sample:
    """Take two passes `pause` seconds apart and return the second, which has the rates."""
    sampler.sample()
    sleep(pause)
    return sampler.sample()
