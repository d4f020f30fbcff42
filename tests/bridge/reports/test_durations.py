"""Durations: business seconds by bisection equal the sum of overlaps with each working span."""

from __future__ import annotations

import random

import pytest

from tocsin.bridge.reports.durations import Hours, collect, counted, paused_seconds

SPANS = [(100.0, 200.0), (300.0, 450.0), (440.0, 500.0), (1000.0, 1010.5)]  # two overlap


def _overlaps(start: float, end: float) -> float:
    merged = [(100.0, 200.0), (300.0, 500.0), (1000.0, 1010.5)]
    return sum(max(0.0, min(end, e) - max(start, s)) for s, e in merged)


def test_business_seconds_are_the_overlap_with_the_working_spans() -> None:
    hours = Hours(reversed(SPANS))
    rng = random.Random(22)
    for _ in range(500):
        start = rng.uniform(0, 1100)
        end = start + rng.uniform(0, 1100)
        assert hours.between(start, end) == pytest.approx(_overlaps(start, end), abs=1e-9)
    assert counted(None, 5.0, 3.0) == 0.0 and counted(None, 3.0, 5.5) == 2.5


def test_each_grouping_gets_exact_median_p90_and_maximum() -> None:
    hours = {"P3": Hours(SPANS)}
    rows = [
        (1, "P1", "ops", 0, "ann", 0.0, 60.0, 600.0),
        (2, "P1", "db", 0, "ann", 0.0, 120.0, None),
        (3, "P3", "ops", 1, None, 150.0, 350.0, 1005.0),  # business: 50 + 50; 50 + 200 + 5
        (4, "P1", "ops", 1, "bob", 0.0, 30.0, 40.0),
    ]
    paused = paused_seconds([(1, "P1", "a", 10.0, 40.0), (1, "P1", "a", 50.0, 55.0)], hours)
    assert paused == {(1, "a"): 35.0}
    found = collect(rows, paused, hours)
    total = found[("total", "", -1, "a")]
    # 60 - 35 paused, 120, 100 business seconds, 30: sorted 25, 30, 100, 120
    assert (total.count, total.median, total.max) == (4, 65.0, 120.0)
    assert total.p90 == pytest.approx(100.0 + 20.0 * 0.7)
    assert found[("priority", "P3", -1, "r")].median == 255.0
    assert found[("week", "P1", 1, "a")].count == 1
    ann = found[("person", "ann", -1, "p")]  # a person's time keeps its pauses
    assert (ann.count, ann.median, ann.max) == (2, 90.0, 120.0)
    assert ("person", "", -1, "p") not in found
