"""What every collector shares: the reading it appends to and the guard around each psutil call."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import psutil

from tocsin.agent.sample import Series

T = TypeVar("T")

COLLECTOR_ERRORS = "tocsin_agent_collector_errors_total"
COLLECTOR_SUCCESS = "tocsin_agent_collector_success"
HELP = {
    COLLECTOR_ERRORS: "Passes in which a collector failed or could not read one of its sources.",
    COLLECTOR_SUCCESS: "1 if the collector read all its sources in the last pass, else 0.",
}

# Hosts, containers and VMs lack some kernel files; psutil reports that with these.
UNAVAILABLE = (OSError, RuntimeError, NotImplementedError, ValueError, psutil.Error)


@dataclass
class Reading:
    """What the collectors found in one pass, appended to in place to spare allocations."""

    gauges: list[Series] = field(default_factory=list)
    counters: list[Series] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # Sources that could not be read this pass; the sampler counts them per collector.
    failures: int = 0


def attempt(call: Callable[[], T], what: str, reading: Reading) -> T | None:
    """Call a psutil function; on a missing source note it and return None instead of failing."""
    try:
        return call()
    except UNAVAILABLE as exc:
        reading.notes.append(f"{what} unavailable: {exc}")
        reading.failures += 1
        return None


class LastSeries:
    """Each device's last reading and the series made of it, passed on again while it stands still.

    An idle disk, interface or filesystem reads the same pass after pass; handing on the very
    Series objects spares building them, and rendering and history skip series they have seen.
    A device not read in a pass is forgotten at its end.
    """

    def __init__(self) -> None:
        self._last: dict[str, tuple[object, dict[str, str], Sequence[Series]]] = {}
        self._kept: dict[str, tuple[object, dict[str, str], Sequence[Series]]] = {}

    def begin(self) -> None:
        """Start a pass."""
        self._kept = {}

    def series(
        self,
        device: str,
        state: object,
        labels: dict[str, str],
        make: Callable[..., Sequence[Series]],
        *args: object,
    ) -> Sequence[Series]:
        """Return the device's series: the last ones if `state` and `labels` stand, else make(*args)."""
        made = self._last.get(device)
        if made is None or made[0] != state or made[1] is not labels:
            made = (state, labels, make(*args))
        self._kept[device] = made
        return made[2]

    def end(self) -> None:
        """End a pass: only the devices read in it are remembered."""
        self._last = self._kept


class DeviceLabels:
    """Map a device name to its label set, or None when filtered out, deciding once per name."""

    def __init__(self, exclude: str | None, include: str | None = None) -> None:
        self._exclude = re.compile(exclude) if exclude else None
        self._include = re.compile(include) if include else None
        self._decided: dict[str, dict[str, str] | None] = {}

    def __call__(self, name: str) -> dict[str, str] | None:
        try:
            return self._decided[name]
        except KeyError:
            pass
        kept = (self._include is None or self._include.search(name) is not None) and (
            self._exclude is None or self._exclude.search(name) is None
        )
        # Hosts that churn interfaces (containers' veth pairs) must not grow this without bound.
        if len(self._decided) >= 4096:
            self._decided.clear()
        labels = self._decided[name] = {"device": name} if kept else None
        return labels


def rate(current: float, previous: float, seconds: float) -> float | None:
    """Return the per-second increase, or None when the counter went back (reset or wrap)."""
    if seconds <= 0 or current < previous:
        return None
    return (current - previous) / seconds
