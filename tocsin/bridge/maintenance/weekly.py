"""Weekly windows set through the API, the CLI or the board: checked, stored and shown.

A stored weekly window is the policy's weekly window with a person and, optionally, a first and
a last date: its days, hours and zone are read by the policy file's own readers, and it opens
and closes through the same Weekly evaluator, so both keep their wall-clock hours across DST
changes alike. A duration is read as wall-clock hours from the start ("02:00 for 2h" is
02:00-04:00 local, an hour shorter on the day clocks spring forward).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from tocsin.bridge.errors import ConfigError, InvalidInput
from tocsin.bridge.maintenance.windows import DAYS, Weekly, Window
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.platform.where import Where
from tocsin.bridge.policy.calendars import clock_time, zone
from tocsin.bridge.policy.maintenance import weekdays

# The ends_at of a stored weekly window without a last date: it bounds no occurrence.
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)
# A weekly window ends less than a day after it starts (longer work: name more days).
LONGEST = timedelta(hours=24)
_T = TypeVar("_T")


def read_weekly(
    *,
    days: Sequence[str],
    start: str,
    end: str | None,
    length: timedelta | None,
    timezone: str,
    first: date | None,
    until: date | None,
    now: datetime,
) -> Weekly:
    """Check a weekly window's parts with the policy file's readers; refuse naming the field."""
    in_zone = _read("timezone", lambda where: zone(timezone, where))
    on_days = _read("days", lambda where: weekdays(list(days), where))
    if not on_days:
        raise InvalidInput("name at least one day, such as ['sun']", "days")
    begin = _read("start", lambda where: clock_time(start, where))
    if begin == time.max:
        raise InvalidInput("24:00 is no start; write 00:00", "start")
    if (end is None) == (length is None):
        raise InvalidInput(
            "give either end (such as '04:00') or duration (such as '2h')", "duration"
        )
    if length is not None:
        finish = _after(begin, length)
    else:
        finish = _read("end", lambda where: clock_time(end, where))
    if finish == begin:
        raise InvalidInput("end is the same time as start: the window would be empty", "end")
    today = now.astimezone(in_zone).date()
    if until is not None and until < today:
        raise InvalidInput(f"the last date {until} is past", "until")
    if first is not None and until is not None and until < first:
        raise InvalidInput("the last date is before the first", "until")
    return Weekly(on_days, begin, finish, in_zone, first, until)


def columns(weekly: Weekly, now: datetime) -> dict[str, Any]:
    """Return a stored weekly window's columns, its starts_at and ends_at bounding every span."""
    starts_at = now
    if weekly.first is not None:
        starts_at = max(now, _midnight(weekly.first, weekly.zone))
    ends_at = FOREVER
    if weekly.until is not None:  # an occurrence starting that day may run past its midnight
        ends_at = _midnight(weekly.until + timedelta(days=2), weekly.zone)
    return {
        "days": ",".join(DAYS[day] for day in weekly.days),
        "day_start": hhmm(weekly.start),
        "day_end": hhmm(weekly.end),
        "timezone": weekly.zone.key,
        "first_day": weekly.first,
        "until_day": weekly.until,
        "starts_at": starts_at,
        "ends_at": ends_at,
    }


def weekly_of(row: Any) -> Weekly | None:
    """Return a stored window's weekly hours, or None for a one-off window."""
    if row.days is None:
        return None
    return Weekly(
        tuple(DAYS.index(day) for day in row.days.split(",")),
        _time(row.day_start),
        _time(row.day_end),
        ZoneInfo(row.timezone),
        row.first_day,
        row.until_day,
    )


def describe(weekly: Weekly) -> str:
    """Return 'sat,sun 02:00-04:00 Asia/Shanghai' for audit trails and listings."""
    days = ",".join(DAYS[day] for day in weekly.days)
    return f"{days} {hhmm(weekly.start)}-{hhmm(weekly.end)} {weekly.zone.key}"


def weekly_json(
    window: Window, now: datetime, held: list[dict[str, Any]], row: Any = None
) -> dict[str, Any]:
    """Return a weekly window as the API shows it: the policy's (row None) or a stored one."""
    weekly = window.weekly
    assert weekly is not None
    span = window.open_span(now)
    status = "active" if span else "upcoming"
    if row is not None and (row.ended_at is not None or as_utc(row.ends_at) <= now):
        status, span = "ended", None
    shown: dict[str, Any] = {
        "id": None if row is None else row.id,
        "key": window.key,
        "source": "policy" if row is None else row.source,
        "matchers": [str(m) for m in window.matchers],
        "reason": window.reason,
        "created_by": window.created_by,
        "status": status,
        "ends_at": rfc3339(span[1]) if span else None,
        "next_start": None if status == "ended" else rfc3339(weekly.next_start(now)),
        "every": describe(weekly),
        "days": [DAYS[day] for day in weekly.days],
        "start": hhmm(weekly.start),
        "end": hhmm(weekly.end),
        "timezone": weekly.zone.key,
        "first": None if weekly.first is None else weekly.first.isoformat(),
        "until": None if weekly.until is None else weekly.until.isoformat(),
        "held": held,
    }
    if row is not None:
        shown["ended_at"] = rfc3339(row.ended_at)
        shown["ended_by"] = row.ended_by
    return shown


def hhmm(moment: time) -> str:
    """Return HH:MM, 24:00 for the end of a day."""
    return "24:00" if moment == time.max else moment.strftime("%H:%M")


def _time(text: str) -> time:
    return time.max if text == "24:00" else time.fromisoformat(text)


def _after(begin: time, length: timedelta) -> time:
    if length <= timedelta(0):
        raise InvalidInput("the duration must be positive", "duration")
    if length >= LONGEST:
        raise InvalidInput("a weekly window lasts less than 24 hours; name more days", "duration")
    if length % timedelta(minutes=1):
        raise InvalidInput("a weekly window's duration is whole minutes", "duration")
    return (datetime.combine(date(2000, 1, 3), begin) + length).time()


def _midnight(day: date, where: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), where).astimezone(UTC)


def _read(field: str, read: Callable[[Where], _T]) -> _T:
    try:
        return read(Where("request", field))
    except ConfigError as exc:
        raise InvalidInput(exc.message.removeprefix("request: "), field) from exc
