"""Recent samples of the series that rules read through a function, and the functions themselves.

A rule with `function: increase`, `rate` or `predict_linear` reads a value computed from the
agent's own recent samples of its metric, as Prometheus computes `increase(m[5m])` or
`predict_linear(m[6h], 86400)` from scraped samples. Each series keeps at most POINTS samples per
window (older ones are thinned), so a 6-hour window costs the same memory as a 5-minute one.
The history lives in memory: after a restart a function has a value again once its series has
two samples.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from itertools import chain
from math import copysign

from tocsin.agent.rules import Rule
from tocsin.agent.sample import Sample, Series

POINTS = 120
Point = tuple[float, float]
LabelKey = tuple[tuple[str, str], ...]
# Label sets remembered for reuse; past this many (interfaces churning) the memory starts afresh.
CACHE_LIMIT = 4096


def increase(points: Sequence[Point]) -> float | None:
    """Return how much a counter grew over the points, a drop counting as a reset to zero."""
    if len(points) < 2:
        return None
    grown = 0.0
    for (_, before), (_, after) in zip(points, points[1:]):
        grown += after - before if after >= before else after
    return grown


def rate(points: Sequence[Point]) -> float | None:
    """Return a counter's per-second growth over the points."""
    grown = increase(points)
    seconds = points[-1][0] - points[0][0] if len(points) > 1 else 0.0
    return None if grown is None or seconds <= 0 else grown / seconds


def predict_linear(points: Sequence[Point], horizon: float) -> float | None:
    """Return the least-squares line through the points, `horizon` seconds after the last."""
    return at(fit(points), horizon)


Line = tuple[float, float, float]


def fit(points: Sequence[Point]) -> Line | None:
    """Return the least-squares line: mean time (from the last point), mean value and slope."""
    if len(points) < 2:
        return None
    origin = points[-1][0]
    count = len(points)
    mean_t = sum(t - origin for t, _ in points) / count
    mean_v = sum(v for _, v in points) / count
    spread = sum((t - origin - mean_t) ** 2 for t, _ in points)
    if spread == 0:
        return None
    slope = sum((t - origin - mean_t) * (v - mean_v) for t, v in points) / spread
    return mean_t, mean_v, slope


def at(line: Line | None, horizon: float) -> float | None:
    """Return a fitted line's value `horizon` seconds after the last point."""
    if line is None:
        return None
    mean_t, mean_v, slope = line
    return mean_v + slope * (horizon - mean_t)


def _value(rule: Rule, points: Sequence[Point]) -> float | None:
    if rule.function == "increase":
        return increase(points)
    if rule.function == "rate":
        return rate(points)
    return predict_linear(points, rule.horizon)


class Track:
    """The recent points of one series, and how many neighbouring points differ in value.

    Most series rules read (NIC errors, OOM kills, idle filesystems) stand still: with no
    change among the points, a function's value is known without walking them. Rules that fit
    a line over the same window (the 4 h and 24 h fill-up predictions) share one fit a cycle.
    """

    __slots__ = ("changes", "fitted", "made", "points")

    def __init__(self) -> None:
        self.points: deque[Point] = deque()
        self.changes = 0
        # (since, the newest point, the line): the entry holds the point, so `is` tells.
        self.fitted: tuple[float, Point, Line | None] | None = None
        # The derived series last made per rule series: passed on while its value stands.
        self.made: dict[str, Series] = {}

    def __len__(self) -> int:
        return len(self.points)

    def add(self, now: float, value: float, window: float) -> None:
        """Append a point, thinned to about POINTS per window, and drop those past the window."""
        points = self.points
        # Thin to about POINTS per window, but always hold the newest point as the last one.
        if len(points) > 1 and now - points[-2][0] <= window / POINTS:
            if points.pop()[1] != points[-1][1]:
                self.changes -= 1
        if points and points[-1][1] != value:
            self.changes += 1
        points.append((now, value))
        while points[0][0] < now - window:
            if points.popleft()[1] != points[0][1]:
                self.changes -= 1

    def series(self, name: str, labels: dict[str, str], value: float) -> Series:
        """Return the derived series `name` with this value, the last one if it is the same."""
        made = self.made.get(name)
        if (
            made is None
            or made.value != value
            or (value == 0 and copysign(1, value) != copysign(1, made.value))
        ):
            made = self.made[name] = Series(name, labels, value)
        return made

    def value(self, rule: Rule, since: float) -> float | None:
        """Return the rule's function over the points since `since`."""
        points = self.points
        if not self.changes and points[0][0] >= since:
            # Every point in the window, all of one value: the answers of a flat line.
            if len(points) < 2:
                return None
            if rule.function == "increase":
                return 0.0
            if points[-1][0] <= points[0][0]:
                return None
            return 0.0 if rule.function == "rate" else points[-1][1]
        if rule.function != "predict_linear":
            return _value(rule, [point for point in points if point[0] >= since])
        fitted = self.fitted
        if fitted is None or fitted[0] != since or fitted[1] is not points[-1]:
            line = fit([point for point in points if point[0] >= since])
            fitted = self.fitted = (since, points[-1], line)
        return at(fitted[2], rule.horizon)


class History:
    """Keep the samples function rules need and add each function's value to a sample."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._series: dict[str, dict[LabelKey, Track]] = {}
        self._rules: tuple[Rule, ...] = ()
        self._windows: dict[str, float] = {}
        # The label dict each derived series carries, made once per label set.
        self._dicts: dict[LabelKey, dict[str, str]] = {}
        # Label key by id(label dict), from the last derive and this one: an entry holds its
        # dict, so no other takes the id; dicts made afresh each pass are forgotten a pass later.
        self._keys: dict[int, tuple[Mapping[str, str], LabelKey]] = {}
        self._new_keys: dict[int, tuple[Mapping[str, str], LabelKey]] = {}
        self.use(rules)

    def use(self, rules: Iterable[Rule]) -> None:
        """Follow a new rule set (a reload); history of metrics still read is kept."""
        self._rules = tuple(rule for rule in rules if rule.function)
        self._windows = {}
        for rule in self._rules:
            self._windows[rule.metric] = max(self._windows.get(rule.metric, 0.0), rule.window)
        for metric in [metric for metric in self._series if metric not in self._windows]:
            del self._series[metric]

    def derive(self, sample: Sample, now: float) -> Sample:
        """Record the sample's values and return it with each function rule's series added."""
        if not self._rules:
            return sample
        windows = self._windows
        for series in chain(sample.gauges, sample.counters):
            window = windows.get(series.name)
            if window is not None:
                self._record(series, window, now)
        self._keys, self._new_keys = self._new_keys, {}
        for metric, window in windows.items():
            known = self._series.get(metric, {})
            # A series gone (an unmounted filesystem) is forgotten once its window has passed.
            for labels in [
                labels for labels, track in known.items() if track.points[-1][0] < now - window
            ]:
                del known[labels]
        derived: list[Series] = []
        for rule in self._rules:
            since = now - rule.window
            for labels, track in self._series.get(rule.metric, {}).items():
                value = track.value(rule, since)
                if value is not None:
                    derived.append(track.series(rule.series, self._dict(labels), value))
        return replace(sample, gauges=sample.gauges + tuple(derived))

    def _dict(self, key: LabelKey) -> dict[str, str]:
        found = self._dicts.get(key)
        if found is None:
            if len(self._dicts) >= CACHE_LIMIT:
                self._dicts.clear()
            found = self._dicts[key] = dict(key)
        return found

    def _key(self, labels: Mapping[str, str]) -> LabelKey:
        """Return the sorted label pairs, looked up by the dict's identity: collectors reuse them."""
        known = self._keys.get(id(labels))
        if known is None or known[0] is not labels:
            known = (labels, tuple(sorted(labels.items())))
        self._new_keys[id(labels)] = known
        return known[1]

    def _record(self, series: Series, window: float, now: float) -> None:
        known = self._series.get(series.name)
        if known is None:
            known = self._series[series.name] = {}
        labels = self._key(series.labels)
        track = known.get(labels)
        if track is None:
            track = known[labels] = Track()
        track.add(now, series.value, window)
