"""What every collector shares: the reading it appends to and the guard around each psutil call."""

from __future__ import annotations

import re
from collections.abc import Callable
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
