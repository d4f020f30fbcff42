"""One year of a calendar's exceptions: its days off and make-up working days, with their source."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from tocsin.bridge.policy.country import country_year
from tocsin.bridge.policy.model import Calendar
from tocsin.bridge.timers.calendar import is_working_day

LOCAL = "local"


@dataclass(frozen=True)
class SpecialDay:
    """A date the calendar treats apart from its weekdays: a holiday, or a worked weekend day."""

    day: date
    kind: str  # holiday | workday
    source: str  # "local" (the policy's override) or the country code, e.g. CN
    name: str = ""  # in English
    local_name: str = ""  # in the country's own language (元旦 for CN), when it has one


@dataclass(frozen=True)
class CalendarYear:
    """The special days of one year, and whether the country's data for it is confirmed."""

    year: int
    days: tuple[SpecialDay, ...]
    confirmed: bool = True


def calendar_year(calendar: Calendar, year: int) -> CalendarYear:
    """Return the year's holidays and make-up working days as the calendar counts them."""
    named: dict[date, str] = {}
    native: dict[date, str] = {}
    country_days: set[date] = set()
    confirmed = True
    if calendar.country is not None:
        data = country_year(calendar.country, calendar.subdivision, year)
        named, native = data.holidays, data.native_names
        country_days = set(data.holidays) | set(data.workdays)
        confirmed = data.confirmed
    local = {d for d in calendar.holidays | calendar.workdays if d.year == year}
    out = []
    for day in sorted(country_days | local):
        worked = is_working_day(calendar, day)
        source = LOCAL if day in local else str(calendar.country)
        name, local_name = ("", "") if worked else (named.get(day, ""), native.get(day, ""))
        out.append(SpecialDay(day, "workday" if worked else "holiday", source, name, local_name))
    return CalendarYear(year=year, days=tuple(out), confirmed=confirmed)
