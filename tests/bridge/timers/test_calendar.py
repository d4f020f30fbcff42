from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.bridge.policy.model import Calendar
from tocsin.bridge.timers.calendar import add, elapsed, is_business_time, nth_working_day

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")

BUSINESS = Calendar(
    name="business",
    timezone=SHANGHAI,
    days=frozenset(range(5)),
    hours=((time(9), time(12)), (time(13), time(18))),
    holidays=frozenset({date(2026, 10, 1), date(2026, 10, 2), date(2026, 10, 5)}),
    workdays=frozenset({date(2026, 9, 27)}),  # a Sunday worked, as a local override
)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)  # type: ignore[misc]


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("start", "hours", "due"),
    [
        (sh(2026, 3, 2, 9), 8, sh(2026, 3, 2, 18)),  # Monday: one working day
        (sh(2026, 3, 2, 11), 2, sh(2026, 3, 2, 14)),  # across the lunch break
        (sh(2026, 3, 2, 12, 30), 1, sh(2026, 3, 2, 14)),  # reported during lunch
        (sh(2026, 3, 6, 17), 8, sh(2026, 3, 9, 17)),  # Friday evening to Monday
        (sh(2026, 3, 7, 10), 1, sh(2026, 3, 9, 10)),  # reported on Saturday
        (sh(2026, 3, 2, 20), 1, sh(2026, 3, 3, 10)),  # reported after hours
        (sh(2026, 9, 30, 17), 2, sh(2026, 10, 6, 10)),  # over the National Day holidays
        (sh(2026, 9, 25, 17), 2, sh(2026, 9, 27, 10)),  # the make-up Sunday is worked
        (sh(2026, 3, 2, 9), 48, sh(2026, 3, 9, 18)),  # P3 resolution: six working days
    ],
)
def test_add_counts_only_business_hours(start: datetime, hours: int, due: datetime) -> None:
    assert add(BUSINESS, start, timedelta(hours=hours)) == due


@pytest.mark.parametrize(
    ("end", "hours", "start"),
    [
        (sh(2026, 3, 2, 14), 2, sh(2026, 3, 2, 11)),  # back across the lunch break
        (sh(2026, 3, 9, 10), 2, sh(2026, 3, 6, 17)),  # Monday morning back to Friday
        (sh(2026, 3, 8, 10), 1, sh(2026, 3, 6, 17)),  # from a Sunday
        (sh(2026, 10, 6, 10), 2, sh(2026, 9, 30, 17)),  # back over the holidays
    ],
)
def test_negative_add_goes_back_in_business_hours(
    end: datetime, hours: int, start: datetime
) -> None:
    assert add(BUSINESS, end, -timedelta(hours=hours)) == start


def test_add_without_calendar_runs_around_the_clock() -> None:
    start = datetime(2026, 3, 7, 23, tzinfo=UTC)
    assert add(None, start, timedelta(minutes=15)) == datetime(2026, 3, 7, 23, 15, tzinfo=UTC)


def test_add_zero_is_the_start_itself() -> None:
    saturday = sh(2026, 3, 7, 10)
    assert add(BUSINESS, saturday, timedelta(0)) == saturday


def test_results_are_utc_whatever_the_calendar_zone() -> None:
    tokyo = Calendar("jp", ZoneInfo("Asia/Tokyo"), frozenset(range(5)), ((time(9), time(17)),))
    monday_night_utc = datetime(2026, 3, 1, 23, tzinfo=UTC)  # Monday 08:00 in Tokyo
    due = add(tokyo, monday_night_utc, timedelta(hours=1))
    assert due == datetime(2026, 3, 2, 1, tzinfo=UTC)
    assert due.tzinfo is UTC


def test_deadline_across_spring_forward_keeps_local_working_hours() -> None:
    office = Calendar("ny", NEW_YORK, frozenset(range(5)), ((time(9), time(17)),))
    # Friday 16:00 EST + 2 business hours: 1 h Friday, 1 h Monday 09:00-10:00 EDT.
    due = add(office, ny(2026, 3, 6, 16), timedelta(hours=2))
    assert due == datetime(2026, 3, 9, 14, tzinfo=UTC)


def test_day_of_spring_forward_has_23_business_hours_around_the_clock() -> None:
    always = Calendar("ny24", NEW_YORK, frozenset(range(7)), ((time(0), time.max),))
    assert elapsed(always, ny(2026, 3, 8), ny(2026, 3, 9)) == timedelta(hours=23)
    assert elapsed(always, ny(2026, 11, 1), ny(2026, 11, 2)) == timedelta(hours=25)


def test_span_inside_a_dst_gap_counts_its_real_length() -> None:
    night = Calendar("night", NEW_YORK, frozenset(range(7)), ((time(1), time(4)),))
    # 01:00-04:00 local on the spring-forward night is two real hours.
    assert elapsed(night, ny(2026, 3, 8), ny(2026, 3, 8, 12)) == timedelta(hours=2)


@pytest.mark.parametrize(
    ("start", "end", "hours"),
    [
        (sh(2026, 3, 2, 9), sh(2026, 3, 2, 18), 8),
        (sh(2026, 3, 6, 17), sh(2026, 3, 9, 10), 2),
        (sh(2026, 3, 7, 0), sh(2026, 3, 8, 23), 0),
        (sh(2026, 3, 2, 18), sh(2026, 3, 2, 9), -8),
    ],
)
def test_elapsed_counts_business_hours_between_instants(
    start: datetime, end: datetime, hours: int
) -> None:
    assert elapsed(BUSINESS, start, end) == timedelta(hours=hours)


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (sh(2026, 3, 2, 9), True),
        (sh(2026, 3, 2, 12, 30), False),
        (sh(2026, 3, 2, 18), False),
        (sh(2026, 3, 7, 10), False),
        (sh(2026, 10, 1, 10), False),
        (sh(2026, 9, 27, 10), True),
    ],
)
def test_is_business_time(instant: datetime, expected: bool) -> None:
    assert is_business_time(BUSINESS, instant) is expected


@pytest.mark.parametrize(
    ("resolved", "due"),
    [
        (sh(2026, 3, 2, 15), sh(2026, 3, 4, 9)),  # Monday -> Wednesday
        (sh(2026, 3, 6, 15), sh(2026, 3, 10, 9)),  # Friday -> Tuesday
        (sh(2026, 9, 30, 15), sh(2026, 10, 7, 9)),  # over the holidays
    ],
)
def test_follow_up_falls_on_the_second_working_day(resolved: datetime, due: datetime) -> None:
    assert nth_working_day(BUSINESS, resolved, 2) == due


def test_calendar_without_working_time_is_refused() -> None:
    mondays = frozenset(date(2026, 1, 5) + timedelta(weeks=w) for w in range(600))
    never = Calendar("never", SHANGHAI, frozenset({0}), ((time(9), time(10)),), mondays)
    with pytest.raises(ValueError, match="no working time"):
        add(never, sh(2026, 1, 1), timedelta(hours=1))


ZONES = ["UTC", "Asia/Shanghai", "America/New_York", "Europe/London", "Australia/Lord_Howe"]


@st.composite
def working_hours(draw: st.DrawFn) -> tuple[tuple[time, time], ...]:
    """Draw one to three disjoint spans of whole minutes, 24:00 included."""
    minutes = sorted(draw(st.sets(st.integers(0, 1440), min_size=2, max_size=6)))
    if len(minutes) % 2:
        minutes = minutes[:-1]

    def at(minute: int) -> time:
        return time.max if minute == 1440 else time(minute // 60, minute % 60)

    return tuple((at(a), at(b)) for a, b in zip(minutes[::2], minutes[1::2], strict=True))


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    hours = draw(working_hours())
    days = draw(st.sets(st.integers(0, 6), min_size=1))
    holidays = draw(st.sets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=20))
    zone = ZoneInfo(draw(st.sampled_from(ZONES)))
    return Calendar("drawn", zone, frozenset(days), hours, frozenset(holidays))


instants = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC))
durations = st.integers(0, 200 * 3600).map(lambda s: timedelta(seconds=s))


@settings(max_examples=200, deadline=None)
@given(calendars(), instants, durations)
def test_elapsed_business_time_to_the_due_time_equals_the_target(
    calendar: Calendar, start: datetime, target: timedelta
) -> None:
    assert elapsed(calendar, start, add(calendar, start, target)) == target


@settings(max_examples=100, deadline=None)
@given(calendars(), instants, durations, durations)
def test_adding_in_two_parts_equals_adding_at_once(
    calendar: Calendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    once = add(calendar, start, first + second)
    assert add(calendar, add(calendar, start, first), second) == once


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, durations)
def test_going_back_then_measuring_gives_the_same_business_time(
    calendar: Calendar, end: datetime, span: timedelta
) -> None:
    assert elapsed(calendar, add(calendar, end, -span), end) == span
