"""Business time at DST edges, against a reference that steps through real time minute by minute.

The rule (timers/wallclock.py): a real minute is business time when the wall clock, on a working
day, shows a time inside a span. A skipped span has no time; a repeated span counts each pass.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bridge.timers.test_calendar import working_hours
from tocsin.bridge.policy.model import Calendar
from tocsin.bridge.timers.calendar import add, elapsed, is_business_time, is_working_day

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
MINUTE = timedelta(minutes=1)

# Days a zone's clocks change in 2026 (Lord Howe moves by half an hour).
CHANGES = [
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("Europe/London", date(2026, 3, 29)),
    ("Europe/London", date(2026, 10, 25)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),
    ("Australia/Lord_Howe", date(2026, 10, 4)),
]


def reference(calendar: Calendar, start: datetime, end: datetime) -> timedelta:
    """Count the real minutes in [start, end) whose wall-clock reading lies in a working span."""
    total = timedelta(0)
    moment = start
    while moment < end:
        local = moment.astimezone(calendar.timezone)
        wall = local.time().replace(tzinfo=None)
        if is_working_day(calendar, local.date()) and any(
            first <= wall and (last == time.max or wall < last) for first, last in calendar.hours
        ):
            total += MINUTE
        moment += MINUTE
    return total


def every_day(zone: ZoneInfo, *spans: tuple[time, time]) -> Calendar:
    return Calendar("edge", zone, frozenset(range(7)), spans)


def test_span_ending_in_the_skipped_hour_stops_at_the_change() -> None:
    # New York 2026-03-08: the clock jumps from 02:00 to 03:00, so 02:00-02:15 never happens.
    night = every_day(NEW_YORK, (time(0), time(2, 15)))
    day_start, day_end = datetime(2026, 3, 8, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC)
    assert elapsed(night, day_start, day_end) == timedelta(hours=2)
    assert reference(night, day_start, day_end) == timedelta(hours=2)
    # The next minute of business time is at midnight of the next day (EDT: 04:00 UTC).
    assert add(night, day_start, timedelta(hours=2, minutes=1)) == datetime(
        2026, 3, 9, 4, 1, tzinfo=UTC
    )


def test_span_in_the_repeated_hour_counts_both_passes() -> None:
    # London 2026-10-25: 01:00-02:00 happens twice, first in BST (00:00 UTC), then in GMT.
    early = every_day(LONDON, (time(1), time(1, 30)))
    start, end = datetime(2026, 10, 24, 23, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC)
    assert elapsed(early, start, end) == timedelta(hours=1)
    assert reference(early, start, end) == timedelta(hours=1)
    assert not is_business_time(early, datetime(2026, 10, 25, 0, 45, tzinfo=UTC))
    assert is_business_time(early, datetime(2026, 10, 25, 1, 15, tzinfo=UTC))
    assert add(early, start, timedelta(minutes=45)) == datetime(2026, 10, 25, 1, 15, tzinfo=UTC)


@st.composite
def edge_cases(draw: st.DrawFn) -> tuple[Calendar, datetime, datetime]:
    zone_name, day = draw(st.sampled_from(CHANGES))
    hours = draw(working_hours())
    days = draw(st.sets(st.integers(0, 6), min_size=1))
    calendar = Calendar("drawn", ZoneInfo(zone_name), frozenset(days), hours)
    base = datetime.combine(day, time(0), tzinfo=UTC)
    start = base + timedelta(minutes=draw(st.integers(-24 * 60, 24 * 60)))
    end = start + timedelta(minutes=draw(st.integers(0, 48 * 60)))
    return calendar, start, end


@settings(max_examples=150, deadline=None)
@given(edge_cases())
def test_business_time_matches_the_minute_by_minute_reference(
    case: tuple[Calendar, datetime, datetime],
) -> None:
    calendar, start, end = case
    expected = reference(calendar, start, end)
    assert elapsed(calendar, start, end) == expected
    if expected > timedelta(0):
        assert reference(calendar, start, add(calendar, start, expected)) == expected
