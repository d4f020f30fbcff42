"""Business-time arithmetic: deadlines that count only the working hours of a calendar.

Business time is real elapsed time inside working intervals: the real instants at which the
calendar's wall clock, on a working day, shows a time inside one of its `hours` spans. So a day
that loses an hour to a DST change really has one hour less; a span in the skipped hour has no
time in it, and a span in a repeated hour counts once per real minute, both times the clock
passes it (timers/wallclock.py). Adding a duration then measuring the time elapsed gives back
exactly that duration. A `None` calendar is 24x7.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.country import country_year
from tocsin.bridge.policy.model import Calendar
from tocsin.bridge.timers.wallclock import real_intervals

# A calendar with no working day in this many days cannot be met; refuse rather than loop.
MAX_SEARCH_DAYS = 3700
ZERO = timedelta(0)
# A year is in use a month before it begins: deadlines and follow-ups reach into it, and a
# country's schedule for it (China's is published each November) should be in place by then.
LOOKAHEAD = timedelta(days=31)


def is_working_day(calendar: Calendar, day: date) -> bool:
    """Return whether a local date is worked: local overrides first, then country data, then days."""
    if day in calendar.workdays:
        return True
    if day in calendar.holidays:
        return False
    if calendar.country is not None:
        data = country_year(calendar.country, calendar.subdivision, day.year)
        if day in data.workdays:
            return True
        if day in data.holidays:
            return False
    return day.weekday() in calendar.days


def _wall(day: date, at: time) -> datetime:
    # 24:00 is loaded as time.max: it means the next midnight, not a microsecond before it.
    if at == time.max:
        day, at = day + timedelta(days=1), time(0)
    return datetime.combine(day, at)


# Every clock start walks the same few days; the spans of a (calendar, date) never change.
@lru_cache(maxsize=4096)
def day_intervals(calendar: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    """Return the working intervals of one local date as UTC (start, end) pairs, in order.

    Spans that touch are joined; DST edges follow the rule in timers/wallclock.py.
    """
    if not is_working_day(calendar, day):
        return ()
    found = sorted(
        piece
        for start, end in calendar.hours
        for piece in real_intervals(calendar.timezone, _wall(day, start), _wall(day, end))
    )
    out: list[tuple[datetime, datetime]] = []
    for first, last in found:
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return tuple(out)


def intervals_from(calendar: Calendar, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Yield the working intervals that end after an instant, in order, clipped to start there."""
    instant = as_utc(instant)
    # Start a day early: a span of the previous local date may still be running in UTC terms.
    day = instant.astimezone(calendar.timezone).date() - timedelta(days=1)
    idle = 0
    while idle <= MAX_SEARCH_DAYS:
        spans = day_intervals(calendar, day)
        idle = 0 if spans else idle + 1
        for start, end in spans:
            if end > instant:
                yield max(start, instant), end
        day += timedelta(days=1)
    raise ValueError(
        f"calendar {calendar.name!r} has no working time within {MAX_SEARCH_DAYS} days of {instant}"
    )


def intervals_before(calendar: Calendar, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Yield the working intervals that start before an instant, latest first, clipped to end there."""
    instant = as_utc(instant)
    # Start a day late: a span of the next local date may already have begun in UTC terms.
    day = instant.astimezone(calendar.timezone).date() + timedelta(days=1)
    idle = 0
    while idle <= MAX_SEARCH_DAYS:
        spans = day_intervals(calendar, day)
        idle = 0 if spans else idle + 1
        for start, end in reversed(spans):
            if start < instant:
                yield start, min(end, instant)
        day -= timedelta(days=1)
    raise ValueError(
        f"calendar {calendar.name!r} has no working time within {MAX_SEARCH_DAYS} days before {instant}"
    )


def add(calendar: Calendar | None, start: datetime, duration: timedelta) -> datetime:
    """Return the instant when `duration` of business time has passed since `start`.

    A negative duration goes back in business time: the instant that much business time earlier.
    """
    start = as_utc(start)
    if calendar is None or duration == ZERO:
        return start + duration
    if duration < ZERO:
        return _subtract(calendar, start, -duration)
    left = duration
    for first, last in intervals_from(calendar, start):
        span = last - first
        if left <= span:
            return first + left
        left -= span
    raise AssertionError("unreachable: intervals_from raises when it runs out")


def _subtract(calendar: Calendar, end: datetime, duration: timedelta) -> datetime:
    left = duration
    for first, last in intervals_before(calendar, end):
        span = last - first
        if left <= span:
            return last - left
        left -= span
    raise AssertionError("unreachable: intervals_before raises when it runs out")


def elapsed(calendar: Calendar | None, start: datetime, end: datetime) -> timedelta:
    """Return the business time between two instants (negative when `end` is before `start`)."""
    start, end = as_utc(start), as_utc(end)
    if calendar is None:
        return end - start
    if end < start:
        return -elapsed(calendar, end, start)
    total = ZERO
    day = start.astimezone(calendar.timezone).date() - timedelta(days=1)
    last_day = end.astimezone(calendar.timezone).date() + timedelta(days=1)
    while day <= last_day:
        for first, last in day_intervals(calendar, day):
            overlap = min(last, end) - max(first, start)
            if overlap > ZERO:
                total += overlap
        day += timedelta(days=1)
    return total


def is_business_time(calendar: Calendar | None, instant: datetime) -> bool:
    """Return whether an instant falls inside working hours (always, without a calendar)."""
    if calendar is None:
        return True
    instant = as_utc(instant)
    local_day = instant.astimezone(calendar.timezone).date()
    return any(
        first <= instant < last
        for day in (local_day - timedelta(days=1), local_day)
        for first, last in day_intervals(calendar, day)
    )


def nth_working_day(calendar: Calendar | None, instant: datetime, n: int) -> datetime:
    """Return the start of working hours on the n-th working day after the instant's local date.

    Without a calendar every day counts and the day starts at 09:00 UTC; n = 0 means now.
    """
    instant = as_utc(instant)
    if n <= 0:
        return instant
    if calendar is None:
        return datetime.combine(instant.date() + timedelta(days=n), time(9), tzinfo=UTC)
    day = instant.astimezone(calendar.timezone).date()
    found = 0
    for _ in range(MAX_SEARCH_DAYS):
        day += timedelta(days=1)
        spans = day_intervals(calendar, day)
        if spans:
            found += 1
            if found >= n:
                return spans[0][0]
    raise ValueError(f"calendar {calendar.name!r} has no {n} working days after {instant}")


def years_in_use(now: datetime) -> tuple[int, ...]:
    """Return the years clocks started now can fall in: this one, and the next in its last weeks."""
    now = as_utc(now)
    return tuple(sorted({now.year, (now + LOOKAHEAD).year}))


def data_missing(calendars: Mapping[str, Calendar], now: datetime) -> list[tuple[str, int]]:
    """Return each (calendar, year) in use whose country holiday data is not confirmed."""
    return [
        (name, year)
        for name, calendar in calendars.items()
        if calendar.country is not None
        for year in years_in_use(now)
        if not country_year(calendar.country, calendar.subdivision, year).confirmed
    ]
