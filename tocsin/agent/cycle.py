"""What a cycle could not do, kept so the next one still runs: a full disk costs persistence only.

A state file or spool write that fails is counted and logged when the fault appears and when it
clears, never every cycle; alerts that could not be spooled wait in memory (one per label set,
bounded) and go out through the re-send path; cycle completion drives /healthz and the watchdog.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Iterable

from tocsin.agent.errors import StorageError
from tocsin.agent.evaluator import LabelSet
from tocsin.agent.push import WireAlert
from tocsin.agent.sample import Series
from tocsin.agent.selfmetrics import STORAGE_FAILING, WATCHDOG

log = logging.getLogger(__name__)

# Distinct alerts held while the spool cannot be written; past it the oldest is dropped, counted.
MAX_HELD = 1000


class StorageFaults:
    """Which of the agent's files cannot be written now, and how many writes failed in all."""

    def __init__(self) -> None:
        self.failures: Counter[str] = Counter({"state": 0, "spool": 0})
        self._failing: dict[str, str] = {}

    @property
    def failing(self) -> bool:
        """Tell whether the last write of any file failed."""
        return bool(self._failing)

    def describe(self) -> str:
        """Return the current faults as one line, '' when none."""
        return "; ".join(self._failing.values())

    def failed(self, what: str, exc: StorageError) -> None:
        """Count one failed write of `what` (state or spool); log it when the fault appears."""
        self.failures[what] += 1
        if what not in self._failing:
            log.error("%s; carrying on from memory, TocsinAgentStorageFull raised", exc)
        self._failing[what] = str(exc)

    def succeeded(self, what: str) -> None:
        """Note a good write of `what`; log the recovery once."""
        if self._failing.pop(what, None) is not None:
            log.warning("the agent's %s can be written again", what)

    def series(self) -> tuple[Series, ...]:
        """Return the gauges a cycle's sample carries, so rules can alert on the agent itself."""
        return (
            Series(STORAGE_FAILING, {}, 1.0 if self._failing else 0.0),
            Series(WATCHDOG, {}, 1.0),
        )


class HeldAlerts:
    """Alert transitions that could not be spooled: the newest per label set, bounded."""

    def __init__(self, limit: int = MAX_HELD) -> None:
        self.limit = limit
        self.dropped_total = 0
        self._alerts: OrderedDict[LabelSet, WireAlert] = OrderedDict()

    def __len__(self) -> int:
        return len(self._alerts)

    def __contains__(self, labels: object) -> bool:
        return labels in self._alerts

    def hold(self, alerts: Iterable[WireAlert]) -> None:
        """Keep `alerts`, replacing older news of the same alert; drop the oldest past the limit."""
        for alert in alerts:
            self._alerts.pop(alert.labels, None)
            self._alerts[alert.labels] = alert
        while len(self._alerts) > self.limit:
            labels, _ = self._alerts.popitem(last=False)
            self.dropped_total += 1
            log.warning("held alerts over %d: dropped the oldest, %s", self.limit, dict(labels))

    def alerts(self) -> list[WireAlert]:
        """Return the held alerts, oldest first."""
        return list(self._alerts.values())

    def clear(self) -> None:
        """Forget them once they are spooled."""
        self._alerts.clear()


class CycleClock:
    """When the last cycle completed, on the wall clock (exported) and the monotonic one (health)."""

    def __init__(self) -> None:
        self.last_wall: float | None = None
        self._last_monotonic: float | None = None

    def completed(self, wall: float, monotonic: float) -> None:
        """Record a completed cycle."""
        self.last_wall = wall
        self._last_monotonic = monotonic

    def healthy(self, monotonic: float, stale_after: float) -> tuple[bool, str]:
        """Tell whether a cycle completed within `stale_after` seconds, with a line saying so."""
        if self._last_monotonic is None:
            return False, "starting: no cycle completed yet"
        age = monotonic - self._last_monotonic
        if age > stale_after:
            return False, f"stale: the last cycle completed {age:.0f}s ago"
        return True, "ok"
