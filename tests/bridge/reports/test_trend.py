"""The weekly trend per priority and breaches by reason, in the report, its renderings and SVG."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from xml.etree import ElementTree

from tests.bridge.reports.history import sql_report
from tests.bridge.reports.reference import ClockFacts, IncidentFacts
from tests.bridge.reports.test_compute import CLOCKS, EVENTS, INCIDENTS, NOW, SINCE, UNTIL, t
from tocsin.bridge.reports.figures import Breach
from tocsin.bridge.reports.render import to_json, to_table
from tocsin.bridge.reports.trend import NO_REASON, by_reason, week_start
from tocsin.bridge.reports.trend_chart import trend_chart

# Two weeks: the hand-worked week of test_compute, and one more P1 the week after, met in 5m.
LATER = IncidentFacts(8, "again", "P1", "ops", t(10, 9), t(10, 9, 5), t(10, 10))
LATER_CLOCK = ClockFacts(8, "response", 900, t(10, 9, 15), t(10, 9, 5), stopped_by="acknowledged")


def two_weeks():  # type: ignore[no-untyped-def]
    return sql_report(
        [*INCIDENTS, LATER],
        EVENTS,
        [*CLOCKS, LATER_CLOCK],
        since=SINCE,
        until=datetime(2026, 3, 16, tzinfo=UTC),
        now=NOW,
    )


def test_weeks_start_on_monday_utc() -> None:
    assert week_start(datetime(2026, 3, 8, 23, 59, tzinfo=UTC)) == t(2, 0)
    assert week_start(t(9, 0)) == t(9, 0)


def test_trend_lists_each_week_per_priority() -> None:
    p1 = two_weeks().trend["P1"]
    assert [(w.start, w.opened) for w in p1] == [(t(2, 0), 2), (t(9, 0), 2)]
    # Week 1: incident 1 met (5m), incident 2 breached (20m): half within target, median 12.5m.
    assert (p1[0].within_target, p1[0].ack_median) == (0.5, 750)
    # Week 2: incident 7 acknowledged after 1h (breached), incident 8 met in 5m.
    assert (p1[1].within_target, p1[1].ack_median) == (0.5, (3600 + 300) / 2)


def test_a_week_without_incidents_has_no_figures() -> None:
    p3 = two_weeks().trend["P3"]
    assert (p3[1].opened, p3[1].ack_median, p3[1].within_target) == (0, None, None)


def breach(reason: str | None) -> Breach:
    return Breach(1, "x", "P1", None, "response", t(2, 0), 60.0, reason, False)


def test_breaches_are_grouped_by_reason_most_frequent_first() -> None:
    grouped = by_reason([breach("phone off"), breach(None), breach("phone off"), breach(" ")])
    assert [(r.reason, r.count) for r in grouped] == [(NO_REASON, 2), ("phone off", 2)]


def test_report_json_and_table_carry_trend_and_reasons() -> None:
    report = sql_report(INCIDENTS, EVENTS, CLOCKS, since=SINCE, until=UNTIL, now=NOW)
    document = json.loads(to_json(report))
    assert document["weekly_trend"]["P1"][0] == {
        "week_start": "2026-03-02T00:00:00Z",
        "opened": 2,
        "ack_median_seconds": 750.0,
        "response_within_target_ratio": 0.5,
    }
    assert document["breaches_by_reason"] == [
        {"reason": NO_REASON, "count": 2},
        {"reason": "primary's phone was off", "count": 1},
    ]
    table = to_table(report)
    assert "Breaches by reason (2)" in table
    assert "  P1       2026-03-02     2       12m    50%" in table


def test_trend_chart_is_valid_svg_with_a_line_per_priority() -> None:
    svg = trend_chart(two_weeks().trend)
    root = ElementTree.fromstring(svg)
    lines = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(lines) == 1  # only P1 has two weeks with decided response clocks
    assert "50% within target" in svg
