"""The SLA report the database computes, checked against a week worked out by hand."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.bridge.reports.history import sql_report
from tests.bridge.reports.reference import ClockFacts, EventFacts, IncidentFacts
from tocsin.bridge.policy.model import Calendar
from tocsin.bridge.reports.figures import SlaReport


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


SINCE, UNTIL, NOW = t(2, 0), t(9, 0), t(10, 0)

# 1: P1 ops, ack after 5m, resolved after 1h, every clock met, satisfaction 5.
# 2: P1 ops, ack after 20m (response due 08:15, 5m late), paused 1h, resolved 3h after opening:
#    2h active. Escalated twice. Satisfaction 3.
# 3: P2 db, ack after 10m, paused 2h, resolved 28h after opening: 26h active; resolution missed
#    by 2h but exempt. Major. Escalated once. Satisfaction 4.
# 4: P2 db, ack after 45m (response due 09:30, 15m late), update due 11:45 missed and still
#    running at NOW (3d 12h 15m late), unresolved.
# 5: P3 without team, never acknowledged.
# 6 and 7 opened outside the window.
INCIDENTS = [
    IncidentFacts(1, "disk full", "P1", "ops", t(2, 10), t(2, 10, 5), t(2, 11), satisfaction=5),
    IncidentFacts(2, "db down", "P1", "ops", t(3, 8), t(3, 8, 20), t(3, 11), satisfaction=3),
    IncidentFacts(3, "slow", "P2", "db", t(4, 12), t(4, 12, 10), t(5, 16), True, 4),
    IncidentFacts(4, "replica lag", "P2", "db", t(6, 9), t(6, 9, 45)),
    IncidentFacts(5, "how do I", "P3", None, t(5, 2)),
    IncidentFacts(6, "before", "P1", "ops", datetime(2026, 3, 1, 23, 59, tzinfo=UTC), t(2, 1)),
    IncidentFacts(7, "after", "P1", "ops", t(9, 1), t(9, 2)),
]
EVENTS = [
    EventFacts(2, "incident.paused", t(3, 8, 30)),
    EventFacts(2, "incident.resumed", t(3, 9, 30)),
    EventFacts(2, "incident.escalated", t(3, 8, 5), {"level": 1}),
    EventFacts(2, "incident.escalated", t(3, 8, 15), {"level": 2}),
    EventFacts(3, "incident.paused", t(4, 13)),
    EventFacts(3, "incident.resumed", t(4, 15)),
    EventFacts(3, "incident.escalated", t(4, 13), {"level": "expert"}),
    EventFacts(7, "incident.escalated", t(9, 1, 5), {"level": 1}),
]
CLOCKS = [
    ClockFacts(1, "response", 900, t(2, 10, 15), stopped_at=t(2, 10, 5), stopped_by="acknowledged"),
    ClockFacts(1, "update", 7200, t(2, 12), stopped_at=t(2, 11)),
    ClockFacts(1, "resolution", 7200, t(2, 12), stopped_at=t(2, 11)),
    ClockFacts(
        2, "response", 900, t(3, 8, 15), t(3, 8, 20), t(3, 8, 15), "primary's phone was off"
    ),
    ClockFacts(2, "update", 7200, t(3, 11), stopped_at=t(3, 11)),
    ClockFacts(2, "resolution", 7200, t(3, 11), stopped_at=t(3, 11)),
    ClockFacts(
        3, "response", 1800, t(4, 12, 30), stopped_at=t(4, 12, 10), stopped_by="acknowledged"
    ),
    ClockFacts(3, "update", 7200, t(5, 16), stopped_at=t(5, 16)),
    ClockFacts(
        3,
        "resolution",
        86400,
        t(5, 14),
        t(5, 16),
        t(5, 14),
        "reporter did not provide information",
        True,
    ),
    ClockFacts(4, "response", 1800, t(6, 9, 30), t(6, 9, 45), t(6, 9, 30)),
    ClockFacts(4, "update", 7200, t(6, 11, 45), None, t(6, 11, 45)),
    ClockFacts(4, "resolution", 86400, t(7, 9)),
    ClockFacts(5, "response", 28800, t(6, 2)),
    ClockFacts(5, "resolution", 172800, t(9, 2)),
    ClockFacts(7, "response", 900, t(9, 1, 15), None, t(9, 1, 15)),
]


@pytest.fixture(scope="module")
def report() -> SlaReport:
    return sql_report(INCIDENTS, EVENTS, CLOCKS, since=SINCE, until=UNTIL, now=NOW)


def test_counts_only_incidents_opened_in_the_window(report: SlaReport) -> None:
    assert (report.total.opened, report.total.acknowledged, report.total.resolved) == (5, 4, 3)


def test_time_to_acknowledge_median_p90_max(report: SlaReport) -> None:
    ack = report.total.time_to_acknowledge
    # sorted 300, 600, 1200, 2700: median halfway 600..1200; p90 at rank 2.7 = 1200 + 0.7 * 1500.
    assert (ack.count, ack.median, ack.p90, ack.max) == (4, 900, 2250, 2700)


def test_time_to_resolve_excludes_paused_time(report: SlaReport) -> None:
    res = report.total.time_to_resolve
    # 3600, 7200 (3h minus 1h paused), 93600 (28h minus 2h); p90 at rank 1.8 = 7200 + 0.8 * 86400.
    assert (res.count, res.median, res.p90, res.max) == (3, 7200, 76320, 93600)


def test_share_within_target_per_clock_leaves_out_exempt_and_running(report: SlaReport) -> None:
    clocks = report.total.clocks
    assert [clocks[c].within_target for c in ("response", "update", "resolution")] == [
        0.5,
        0.75,
        1.0,
    ]
    assert (clocks["resolution"].exempt, clocks["resolution"].running) == (1, 2)  # 4 and 5
    assert clocks["response"].running == 1


def test_breaches_name_incident_clock_lateness_and_reason(report: SlaReport) -> None:
    assert [(b.incident_id, b.clock, b.late_seconds, b.reason) for b in report.breaches] == [
        (2, "response", 300, "primary's phone was off"),
        (4, "response", 900, None),
        (4, "update", 3 * 86400 + 12 * 3600 + 15 * 60, None),
    ]
    assert report.breaches[0].due_at == t(3, 8, 15)


def test_exempt_breaches_are_listed_apart(report: SlaReport) -> None:
    assert [(b.incident_id, b.clock, b.late_seconds, b.reason) for b in report.exemptions] == [
        (3, "resolution", 7200, "reporter did not provide information")
    ]
    assert (report.total.breaches, report.total.exemptions) == (3, 1)


def test_escalations_and_major_incidents(report: SlaReport) -> None:
    total = report.total
    assert (total.escalations, total.escalated_incidents, total.major_incidents) == (3, 2, 1)


def test_satisfaction_from_closing(report: SlaReport) -> None:
    satisfaction = report.total.satisfaction
    assert (satisfaction.count, satisfaction.mean, dict(satisfaction.scores)) == (
        3,
        4.0,
        {3: 1, 4: 1, 5: 1},
    )


def test_figures_per_priority(report: SlaReport) -> None:
    p1, p2, p3 = (report.by_priority[p] for p in ("P1", "P2", "P3"))
    assert (p1.opened, p1.time_to_acknowledge.median, p1.time_to_acknowledge.p90) == (2, 750, 1110)
    assert (p1.time_to_resolve.median, p1.time_to_resolve.p90, p1.escalations) == (5400, 6840, 2)
    assert (p2.time_to_acknowledge.median, p2.time_to_acknowledge.p90) == (1650, 2490)
    assert (p2.clocks["update"].within_target, p2.clocks["resolution"].within_target) == (0.5, None)
    assert (p2.major_incidents, p3.opened, p3.time_to_acknowledge.median) == (1, 1, None)


def test_figures_per_team_put_teamless_incidents_under_none(report: SlaReport) -> None:
    assert {k: v.opened for k, v in report.by_team.items()} == {"(none)": 1, "db": 2, "ops": 2}
    assert report.by_team["ops"].breaches == 1


def test_escalation_to_major_level_counts_as_major() -> None:
    incident = IncidentFacts(1, "x", "P1", None, t(2, 10))
    events = [EventFacts(1, "incident.escalated", t(2, 13), {"level": "major"})]
    report = sql_report([incident], events, [], since=SINCE, until=UNTIL, now=NOW)
    assert report.total.major_incidents == 1


def test_an_open_pause_runs_to_the_end_of_the_interval() -> None:
    incident = IncidentFacts(1, "x", "P1", None, t(2, 10), None, t(2, 14))
    events = [EventFacts(1, "incident.paused", t(2, 11))]
    report = sql_report([incident], events, [], since=SINCE, until=UNTIL, now=NOW)
    assert report.total.time_to_resolve.median == 3600


def test_business_time_of_a_calendar_priority_leaves_out_nights_and_pauses() -> None:
    # Opened Monday 08:00, resolved 14:00, paused 11:00-12:00; working hours 09:00-17:00 UTC.
    office = Calendar("office", ZoneInfo("UTC"), frozenset(range(5)), ((time(9), time(17)),))
    incident = IncidentFacts(1, "x", "P3", None, t(2, 8), None, t(2, 14))
    events = [
        EventFacts(1, "incident.paused", t(2, 11)),
        EventFacts(1, "incident.resumed", t(2, 12)),
    ]
    report = sql_report(
        [incident], events, [], since=SINCE, until=UNTIL, now=NOW, calendars={"P3": office}
    )
    assert report.total.time_to_resolve.median == 4 * 3600


@pytest.mark.parametrize(
    ("seconds", "median", "p90"),
    [([5.0], 5.0, 5.0), ([1.0, 2.0, 3.0], 2.0, 2.8), ([0.0, 10.0], 5.0, 9.0)],
)
def test_percentiles_interpolate_linearly(seconds: list[float], median: float, p90: float) -> None:
    found = [
        IncidentFacts(n, "x", "P1", None, t(2, 10), t(2, 10) + timedelta(seconds=s))
        for n, s in enumerate(seconds, 1)
    ]
    ack = sql_report(found, [], [], since=SINCE, until=UNTIL, now=NOW).total.time_to_acknowledge
    assert (ack.median, ack.p90) == (pytest.approx(median), pytest.approx(p90))


def test_a_breach_of_an_earlier_update_cycle_comes_from_the_timeline() -> None:
    # The update clock was missed at 12:00, restarted by a note at 12:15, then met at resolve.
    incident = IncidentFacts(1, "x", "P1", None, t(2, 10), t(2, 10, 5), t(2, 13))
    events = [
        EventFacts(
            1,
            "incident.sla_breached",
            t(2, 12),
            {"sla": "update", "due_at": "2026-03-02T12:00:00Z"},
        ),
        EventFacts(1, "incident.note_added", t(2, 12, 15), {"text": "working on it"}),
    ]
    clocks = [ClockFacts(1, "update", 7200, t(2, 14, 15), stopped_at=t(2, 13))]
    report = sql_report([incident], events, clocks, since=SINCE, until=UNTIL, now=NOW)
    assert [(b.clock, b.late_seconds, b.reason) for b in report.breaches] == [("update", 900, None)]
    assert report.total.clocks["update"].within_target == 0.5


def test_an_internal_note_does_not_end_a_missed_update_cycle() -> None:
    incident = IncidentFacts(1, "x", "P1", None, t(2, 10), t(2, 10, 5), t(2, 13))
    breach = {"sla": "update", "due_at": "2026-03-02T12:00:00Z"}
    events = [
        EventFacts(1, "incident.sla_breached", t(2, 12), breach),
        EventFacts(1, "incident.note_added", t(2, 12, 15), {"text": "logs", "public": False}),
        EventFacts(1, "incident.note_added", t(2, 12, 30), {"text": "on it", "public": True}),
    ]
    clocks = [ClockFacts(1, "update", 7200, t(2, 14, 30), stopped_at=t(2, 13))]
    report = sql_report([incident], events, clocks, since=SINCE, until=UNTIL, now=NOW)
    assert [(b.clock, b.late_seconds) for b in report.breaches] == [("update", 1800)]


def test_the_breach_of_the_current_cycle_is_not_counted_twice(report: SlaReport) -> None:
    events = [EventFacts(4, "incident.sla_breached", t(6, 9, 30), {"sla": "response"})]
    again = sql_report(INCIDENTS, EVENTS + events, CLOCKS, since=SINCE, until=UNTIL, now=NOW)
    assert again.breaches == report.breaches


def test_the_first_page_is_not_an_escalation() -> None:
    incident = IncidentFacts(1, "x", "P1", None, t(2, 10))
    events = [
        EventFacts(1, "incident.escalated", t(2, 10), {"level": 0, "name": "response", "step": 0}),
        EventFacts(
            1, "incident.escalated", t(2, 10, 5), {"level": 1, "name": "response", "step": 1}
        ),
        EventFacts(1, "incident.escalated", t(2, 13), {"level": 4, "name": "major", "step": 1}),
    ]
    total = sql_report([incident], events, [], since=SINCE, until=UNTIL, now=NOW).total
    assert (total.escalations, total.escalated_incidents, total.major_incidents) == (2, 1, 1)


def test_steps_that_reached_nobody_are_listed() -> None:
    incident = IncidentFacts(1, "disk full", "P1", "ops", t(2, 10))
    events = [
        EventFacts(1, "incident.escalated", t(2, 10), {"level": 0, "targets": ["person:ann"]}),
        EventFacts(
            1,
            "incident.escalated",
            t(2, 10, 5),
            {"level": 1, "targets": [], "unreached": ["schedule:ops-backup"]},
        ),
    ]
    report = sql_report([incident], events, [], since=SINCE, until=UNTIL, now=NOW)
    assert [(u.incident_id, u.at, u.targets) for u in report.unreached] == [
        (1, t(2, 10, 5), ("schedule:ops-backup",))
    ]
