"""CPU time per mode as counters, and busy and iowait ratios from the change between two passes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

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


class CpuTimes(Protocol):
    """The shape of psutil.cpu_times(): a named tuple of seconds per mode."""

    def _asdict(self) -> dict[str, Any]: ...


class CpuCollector:
    """Read cumulative CPU times and derive usage ratios from the previous reading."""

    def __init__(self, cpu_times: Callable[[], CpuTimes] = psutil.cpu_times) -> None:
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
