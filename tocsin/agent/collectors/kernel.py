"""Kernel-wide counters node_exporter's stat, vmstat, pressure, conntrack and filefd collectors
export.

Each source is one small /proc file; a file the kernel lacks (no PSI before 4.20, no conntrack
module loaded) leaves its series out without counting a failure, as node_exporter does.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

from tocsin.agent.collectors.base import Reading
from tocsin.agent.sample import Series

BOOT_TIME = "tocsin_boot_time_seconds"
UPTIME = "tocsin_uptime_seconds"
CONTEXT_SWITCHES = "tocsin_context_switches_total"
FORKS = "tocsin_forks_total"
CORE_SECONDS = "tocsin_cpu_core_seconds_total"
OOM_KILL = "tocsin_vmstat_oom_kill"
CONNTRACK_ENTRIES = "tocsin_nf_conntrack_entries"
CONNTRACK_LIMIT = "tocsin_nf_conntrack_entries_limit"
CONNTRACK_RATIO = "tocsin_nf_conntrack_used_ratio"
FILEFD_ALLOCATED = "tocsin_filefd_allocated"
FILEFD_MAXIMUM = "tocsin_filefd_maximum"
FILEFD_RATIO = "tocsin_filefd_used_ratio"
PRESSURE = {
    ("cpu", "some"): "tocsin_pressure_cpu_waiting_seconds_total",
    ("io", "some"): "tocsin_pressure_io_waiting_seconds_total",
    ("io", "full"): "tocsin_pressure_io_stalled_seconds_total",
    ("memory", "some"): "tocsin_pressure_memory_waiting_seconds_total",
    ("memory", "full"): "tocsin_pressure_memory_stalled_seconds_total",
}

HELP = {
    BOOT_TIME: "Node boot time, in unixtime (node_boot_time_seconds).",
    UPTIME: "Seconds since boot (/proc/uptime; node_time_seconds - node_boot_time_seconds).",
    CONTEXT_SWITCHES: "Total number of context switches (node_context_switches_total).",
    FORKS: "Total number of forks (node_forks_total).",
    CORE_SECONDS: "Seconds each CPU spent in each mode (node_cpu_seconds_total).",
    OOM_KILL: "Processes the kernel's OOM killer killed since boot (node_vmstat_oom_kill).",
    CONNTRACK_ENTRIES: "Flow entries in the connection tracking table (node_nf_conntrack_entries).",
    CONNTRACK_LIMIT: "Size of the connection tracking table (node_nf_conntrack_entries_limit).",
    CONNTRACK_RATIO: "Fraction of the connection tracking table in use.",
    FILEFD_ALLOCATED: "File descriptors allocated system-wide (node_filefd_allocated).",
    FILEFD_MAXIMUM: "The system-wide file descriptor limit, fs.file-max (node_filefd_maximum).",
    FILEFD_RATIO: "Fraction of the system-wide file descriptor limit allocated.",
    PRESSURE[("cpu", "some")]: "Seconds processes waited for CPU time (PSI).",
    PRESSURE[("io", "some")]: "Seconds processes waited for I/O (PSI).",
    PRESSURE[("io", "full")]: "Seconds no process could make progress due to I/O (PSI).",
    PRESSURE[("memory", "some")]: "Seconds processes waited for memory (PSI).",
    PRESSURE[("memory", "full")]: "Seconds no process could make progress due to memory (PSI).",
}

_OOM_KILL = re.compile(rb"^oom_kill (\d+)$", re.MULTILINE)
_PSI_TOTAL = re.compile(rb"^(some|full) .*total=(\d+)$", re.MULTILINE)
# /proc/stat counts CPU time in USER_HZ ticks.
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_CPU_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def _read(path: str) -> bytes | None:
    """Return a file's bytes, or None when the kernel does not have it."""
    try:
        with open(path, "rb") as file:
            return file.read()
    except FileNotFoundError:
        return None


class KernelCollector:
    """Read /proc/stat, /proc/vmstat, /proc/pressure/* and the conntrack table's fill."""

    def __init__(self, proc_root: str = "/proc", read: Callable[[str], bytes | None] = _read):
        self._root = proc_root
        self._read = read
        self._cpu_labels: dict[tuple[bytes, str], dict[str, str]] = {}

    def collect(self, reading: Reading) -> None:
        """Append what each present source says; a garbled file raises and costs this collector."""
        self._stat(reading)
        uptime = self._read(f"{self._root}/uptime")
        if uptime is not None:
            reading.gauges.append(Series(UPTIME, {}, float(uptime.split()[0])))
        vmstat = self._read(f"{self._root}/vmstat")
        if vmstat is not None:
            found = _OOM_KILL.search(vmstat)
            if found is not None:
                reading.gauges.append(Series(OOM_KILL, {}, float(found.group(1))))
        for resource in ("cpu", "io", "memory"):
            text = self._read(f"{self._root}/pressure/{resource}")
            if text is None:
                continue
            for kind, micros in _PSI_TOTAL.findall(text):
                name = PRESSURE.get((resource, kind.decode()))
                if name is not None:
                    reading.counters.append(Series(name, {}, int(micros) / 1e6))
        self._conntrack(reading)
        self._filefd(reading)

    def _filefd(self, reading: Reading) -> None:
        # "allocated unused maximum"; unused is always 0 since Linux 2.6.
        text = self._read(f"{self._root}/sys/fs/file-nr")
        if text is None:
            return
        allocated, _, maximum = (float(int(field)) for field in text.split()[:3])
        reading.gauges.append(Series(FILEFD_ALLOCATED, {}, allocated))
        reading.gauges.append(Series(FILEFD_MAXIMUM, {}, maximum))
        if maximum > 0:
            reading.gauges.append(Series(FILEFD_RATIO, {}, allocated / maximum))

    def _stat(self, reading: Reading) -> None:
        text = self._read(f"{self._root}/stat")
        if text is None:
            return
        counters = reading.counters
        for line in text.splitlines():
            key, _, rest = line.partition(b" ")
            if key.startswith(b"cpu") and key != b"cpu":
                self._core(key[3:], rest.split(), counters)
            elif key == b"btime":
                reading.gauges.append(Series(BOOT_TIME, {}, float(int(rest))))
            elif key == b"ctxt":
                counters.append(Series(CONTEXT_SWITCHES, {}, float(int(rest))))
            elif key == b"processes":
                counters.append(Series(FORKS, {}, float(int(rest))))

    def _core(self, cpu: bytes, fields: list[bytes], counters: list[Series]) -> None:
        # guest and guest_nice follow; Linux counts them inside user and nice already.
        for mode, ticks in zip(_CPU_MODES, fields):
            labels = self._cpu_labels.get((cpu, mode))
            if labels is None:
                labels = self._cpu_labels[(cpu, mode)] = {"cpu": cpu.decode(), "mode": mode}
            counters.append(Series(CORE_SECONDS, labels, int(ticks) / _CLOCK_TICKS))

    def _conntrack(self, reading: Reading) -> None:
        base = f"{self._root}/sys/net/netfilter"
        count, limit = (
            self._read(f"{base}/nf_conntrack_count"),
            self._read(f"{base}/nf_conntrack_max"),
        )
        if count is None or limit is None:
            return
        entries, size = float(int(count)), float(int(limit))
        reading.gauges.append(Series(CONNTRACK_ENTRIES, {}, entries))
        reading.gauges.append(Series(CONNTRACK_LIMIT, {}, size))
        if size > 0:
            reading.gauges.append(Series(CONNTRACK_RATIO, {}, entries / size))
