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
from collections.abc import Iterable, Sequence
from dataclasses import replace

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
    return mean_v + slope * (horizon - mean_t)


def _value(rule: Rule, points: Sequence[Point]) -> float | None:
    if rule.function == "increase":
        return increase(points)
    if rule.function == "rate":
        return rate(points)
    return predict_linear(points, rule.horizon)


class History:
    """Keep the samples function rules need and add each function's value to a sample."""

    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._series: dict[str, dict[tuple[tuple[str, str], ...], deque[Point]]] = {}
        self._rules: tuple[Rule, ...] = ()
        self._windows: dict[str, float] = {}
        # The label dict each derived series carries, made once per label set.
        self._dicts: dict[LabelKey, dict[str, str]] = {}
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
        for series in (*sample.gauges, *sample.counters):
            window = self._windows.get(series.name)
            if window is not None:
                self._record(series, window, now)
        for metric, window in self._windows.items():
            known = self._series.get(metric, {})
            # A series gone (an unmounted filesystem) is forgotten once its window has passed.
            for labels in [
                labels for labels, points in known.items() if points[-1][0] < now - window
            ]:
                del known[labels]
        derived: list[Series] = []
        for rule in self._rules:
            for labels, points in self._series.get(rule.metric, {}).items():
                recent = [point for point in points if point[0] >= now - rule.window]
                value = _value(rule, recent)
                if value is not None:
                    derived.append(Series(rule.series, self._dict(labels), value))
        return replace(sample, gauges=sample.gauges + tuple(derived))

    def _dict(self, key: LabelKey) -> dict[str, str]:
        found = self._dicts.get(key)
        if found is None:
            if len(self._dicts) >= CACHE_LIMIT:
                self._dicts.clear()
            found = self._dicts[key] = dict(key)
        return found

    def _record(self, series: Series, window: float, now: float) -> None:
        known = self._series.setdefault(series.name, {})
        labels = tuple(sorted(series.labels.items()))
        points = known.get(labels)
        if points is None:
            points = known[labels] = deque()
        # Thin to about POINTS per window, but always hold the newest point as the last one.
        if len(points) > 1 and now - points[-2][0] <= window / POINTS:
            points.pop()
        points.append((now, series.value))
        while points and points[0][0] < now - window:
            points.popleft()
