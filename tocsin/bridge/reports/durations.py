"""Times to acknowledge and to resolve, and their median, 90th percentile and maximum per group.

The window's incidents stream by once (reports/aggregate.py window_rows) with their times in
epoch seconds; each duration goes into an array of floats per grouping it counts in (total,
priority, team, week of the trend, person), eight bytes a duration, and each array is sorted
once at the end: exact ranks, however the values tie. Active time leaves out paused intervals
(a person's time to acknowledge keeps them); a priority with a calendar counts business
seconds, the overlap with its working hours, found by bisection over the spans in order.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tocsin.bridge.reports.figures import DurationStats

Key = tuple[str, str, int, str]  # grouping, its key, week (-1 but for the trend), what
NO_DURATIONS = DurationStats(0, None, None, None)


class Hours:
    """The working hours of one calendar priority: business seconds up to any instant."""

    def __init__(self, spans: Iterable[tuple[float, float]]) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.before: list[float] = []  # business seconds of the spans before each
        for start, end in sorted(spans):
            if self.ends and start <= self.ends[-1]:  # overlapping or touching: one span
                self.ends[-1] = max(self.ends[-1], end)
                continue
            done = self.before[-1] + self.ends[-1] - self.starts[-1] if self.starts else 0.0
            self.starts.append(start)
            self.ends.append(end)
            self.before.append(done)

    def until(self, instant: float) -> float:
        """Return the business seconds from the first span to an instant."""
        index = bisect_right(self.starts, instant) - 1
        if index < 0:
            return 0.0
        start = self.starts[index]
        return self.before[index] + min(max(instant - start, 0.0), self.ends[index] - start)

    def between(self, start: float, end: float) -> float:
        """Return the business seconds of [start, end]."""
        return self.until(end) - self.until(start)


def counted(hours: Hours | None, start: float, end: float) -> float:
    """Return the seconds of [start, end] that count: business time where there are hours."""
    return max(end - start, 0.0) if hours is None else hours.between(start, end)


def groups(what: str, priority: str, team: str, week: int) -> list[Key]:
    """Return the groupings one duration of a cell counts in: total, priority, team (and week)."""
    keys: list[Key] = [("total", "", -1, what), ("priority", priority, -1, what)]
    keys.append(("team", team, -1, what))
    if what == "a":
        keys.append(("week", priority, week, what))
    return keys


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Return the linearly interpolated percentile of sorted values (numpy's default method)."""
    rank = fraction * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def stats(values: Iterable[float]) -> DurationStats:
    """Return the count, median, 90th percentile and maximum of some durations."""
    ordered = sorted(values)
    if not ordered:
        return NO_DURATIONS
    return DurationStats(
        len(ordered), percentile(ordered, 0.5), percentile(ordered, 0.9), ordered[-1]
    )


def paused_seconds(
    parts: Iterable[Any], hours: Mapping[str, Hours]
) -> dict[tuple[int, str], float]:
    """Return the paused seconds (as counted) of each duration: parts are (id, priority, what,
    start, end), one per pause within it."""
    paused: dict[tuple[int, str], float] = {}
    for incident_id, priority, what, start, end in parts:
        key = (int(incident_id), str(what))
        paused[key] = paused.get(key, 0.0) + counted(hours.get(priority), start, end)
    return paused


def collect(
    rows: Iterable[Any],
    paused: Mapping[tuple[int, str], float],
    hours: Mapping[str, Hours],
) -> dict[Key, DurationStats]:
    """Return the statistics of every grouping from the window's rows.

    A row is (id, priority, team, week, acknowledged_by, c, a, r): times in epoch seconds, None
    where it did not happen. `paused` holds the paused seconds (as counted) of ('a' or 'r')
    durations that had any.
    """
    # Each duration goes once into its cell's array (what, priority, team, week) or its
    # person's; the groupings gather whole arrays at the end, at C speed.
    cells: dict[tuple[str, str, str, int], array[float]] = {}
    people: dict[str, array[float]] = {}
    for incident_id, priority, team, week, person, created, acked, resolved in rows:
        priority_hours = hours.get(priority)
        if acked is not None:
            whole = counted(priority_hours, created, acked)
            less = paused.get((incident_id, "a"), 0.0)
            _into(cells, ("a", priority, team, week)).append(max(whole - less, 0.0))
            if person:
                _into(people, person).append(max(whole, 0.0))
        if resolved is not None:
            whole = counted(priority_hours, created, resolved)
            less = paused.get((incident_id, "r"), 0.0)
            _into(cells, ("r", priority, team, week)).append(max(whole - less, 0.0))
    arrays: dict[Key, array[float]] = {("person", p, -1, "p"): v for p, v in people.items()}
    for cell, values in cells.items():
        for key in groups(*cell):
            arrays.setdefault(key, array("d")).extend(values)
    return {key: stats(values) for key, values in arrays.items()}


def _into(arrays: dict[Any, array[float]], key: Any) -> array[float]:
    found = arrays.get(key)
    if found is None:
        found = arrays[key] = array("d")
    return found
