"""Load averages, and the 1-minute load divided by the CPUs so one threshold fits every host."""

from __future__ import annotations

from collections.abc import Callable

import psutil

from tocsin.agent.collectors.base import Reading, attempt
from tocsin.agent.sample import Series

LOAD1 = "tocsin_load1"
LOAD5 = "tocsin_load5"
LOAD15 = "tocsin_load15"
PER_CPU = "tocsin_load_per_cpu"

HELP = {
    LOAD1: "Load average over 1 minute.",
    LOAD5: "Load average over 5 minutes.",
    LOAD15: "Load average over 15 minutes.",
    PER_CPU: "Load average over 1 minute divided by the number of logical CPUs.",
}


class LoadCollector:
    """Read the load averages; the CPU count is read once, as it does not change while running."""

    def __init__(
        self,
        getloadavg: Callable[[], tuple[float, float, float]] = psutil.getloadavg,
        cpu_count: Callable[[], int | None] = psutil.cpu_count,
    ) -> None:
        self._getloadavg = getloadavg
        self._cpus = cpu_count() or 0

    def collect(self, reading: Reading) -> None:
        """Append the three load averages and the per-CPU load."""
        loads = attempt(self._getloadavg, "load average", reading)
        if loads is None:
            return
        load1, load5, load15 = loads
        gauges = reading.gauges
        gauges.append(Series(LOAD1, {}, float(load1)))
        gauges.append(Series(LOAD5, {}, float(load5)))
        gauges.append(Series(LOAD15, {}, float(load15)))
        if self._cpus > 0:
            gauges.append(Series(PER_CPU, {}, load1 / self._cpus))
