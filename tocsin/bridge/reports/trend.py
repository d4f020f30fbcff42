"""Figures managers follow over time: the weekly trend per priority, and breaches by reason.

Weeks start on Monday 00:00 UTC and hold the incidents opened in them; a week of the window
without incidents is listed with no figures, so a chart shows the gap instead of hiding it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from tocsin.bridge.platform.clock import as_utc

if TYPE_CHECKING:
    from tocsin.bridge.reports.figures import Breach

WEEK = timedelta(days=7)
NO_REASON = "(none recorded)"


@dataclass(frozen=True)
class Week:
    """One week of one priority: incidents opened, median time to acknowledge, share in target."""

    start: datetime
    opened: int
    ack_median: float | None
    within_target: float | None  # of the response clock


@dataclass(frozen=True)
class ReasonCount:
    """How many breaches (not exempt) were given one reason."""

    reason: str
    count: int


def week_start(instant: datetime) -> datetime:
    """Return the Monday 00:00 UTC that begins the instant's week."""
    day = as_utc(instant).date()
    monday = day - timedelta(days=day.weekday())
    return datetime.combine(monday, time(0), tzinfo=as_utc(instant).tzinfo)


def by_reason(breaches: Iterable[Breach]) -> tuple[ReasonCount, ...]:
    """Return the breaches grouped by their recorded reason, most frequent first."""
    counts: dict[str, int] = {}
    for breach in breaches:
        reason = (breach.reason or "").strip() or NO_REASON
        counts[reason] = counts.get(reason, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(ReasonCount(reason, count) for reason, count in ordered)
