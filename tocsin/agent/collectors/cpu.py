"""CPU time per mode as counters, and busy and iowait ratios from the change between two passes."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

import psutil

from tocsin.agent.collectors.base import Reading, attempt
from tocsin.agent.sample import Series

SECONDS = "tocsin_cpu_seconds_total"
USAGE = "tocsin_cpu_usage_ratio"
IOWAIT = "tocsin_cpu_iowait_ratio"

HELP = {
    SECONDS: "Seconds all CPUs spent in each mode since boot.",
    USAGE: "Fraction of CPU time spent busy (not idle, not waiting on I/O) since the last sample.",
    IOWAIT: "Fraction of CPU time spent idle waiting on I/O since the last sample.",
}

# Linux counts guest time inside user and nice already; exporting it again would count it twice.
_ALREADY_COUNTED = frozenset({"guest", "guest_nice"})
_IDLE_MODES = frozenset({"idle", "iowait"})
# /proc/stat counts in USER_HZ ticks.
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class CpuTimes(Protocol):
    """The shape of psutil.cpu_times(): a named tuple of seconds per mode."""

    def _asdict(self) -> dict[str, Any]: ...


class CpuStat(NamedTuple):
    """The `cpu` line of /proc/stat in seconds, in psutil's field names."""

    user: float
    nice: float
    system: float
    idle: float
    iowait: float = 0.0
    irq: float = 0.0
    softirq: float = 0.0
    steal: float = 0.0
    guest: float = 0.0
    guest_nice: float = 0.0


def read_cpu_times(path: str = "/proc/stat") -> CpuTimes:
    """Read all CPUs' times from the first line of /proc/stat, or through psutil elsewhere.

    A garbled line raises ValueError, which costs the CPU collector alone.
    """
    try:
        with open(path, "rb") as file:
            line = file.readline()
    except FileNotFoundError:
        return psutil.cpu_times()
    fields = line.split()
    if len(fields) < 5 or fields[0] != b"cpu":
        raise ValueError(f"{path} does not start with a 'cpu' line of times")
    ticks = _CLOCK_TICKS
    return CpuStat(*(int(value) / ticks for value in fields[1:11]))


class CpuCollector:
    """Read cumulative CPU times and derive usage ratios from the previous reading."""

    def __init__(self, cpu_times: Callable[[], CpuTimes] = read_cpu_times) -> None:
        self._cpu_times = cpu_times
        self._previous: dict[str, float] | None = None
        self._labels: dict[str, dict[str, str]] = {}

    def collect(self, reading: Reading) -> None:
        """Append the mode counters and, from the second pass on, the usage ratios."""
        times = attempt(self._cpu_times, "CPU times", reading)
        if times is None:
            return
        current: dict[str, float] = times._asdict()
        for mode in _ALREADY_COUNTED:
            current.pop(mode, None)
        counters = reading.counters
        for mode, seconds in current.items():
            labels = self._labels.get(mode)
            if labels is None:
                labels = self._labels[mode] = {"mode": mode}
            counters.append(Series(SECONDS, labels, seconds))
        previous, self._previous = self._previous, current
        if previous is not None:
            self._ratios(previous, current, reading)

    @staticmethod
    def _ratios(previous: dict[str, float], current: dict[str, float], reading: Reading) -> None:
        deltas = {mode: current[mode] - previous.get(mode, current[mode]) for mode in current}
        total = sum(deltas.values())
        if total <= 0 or min(deltas.values()) < 0:
            return
        idle = sum(delta for mode, delta in deltas.items() if mode in _IDLE_MODES)
        reading.gauges.append(Series(USAGE, {}, _clamp(1.0 - idle / total)))
        if "iowait" in deltas:
            reading.gauges.append(Series(IOWAIT, {}, _clamp(deltas["iowait"] / total)))


def _clamp(ratio: float) -> float:
    return min(1.0, max(0.0, ratio))
