"""Public holidays and make-up working days of a country, from the maintained `holidays` package.

Some countries set each year's days off by decree: China's State Council publishes every
November which weekdays are off and which weekend days are worked (调休). For those countries
the package holds confirmed data only for the years it lists a published schedule for; a later
year has only the fixed festival dates, which are not the real days off. Such a year (or one
whose dates the package marks as estimated) is reported as not confirmed, so the bridge can warn
instead of silently counting ordinary weekdays as holidays or make-up days as weekends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays

# Countries whose days off are announced year by year rather than fixed by law.
ANNOUNCED_YEARLY = frozenset({"CN"})
ESTIMATED = "estimated"  # the package's English mark on a date it could only estimate


class UnknownCountry(ValueError):
    """The holidays package has no data for this country or subdivision."""


@dataclass(frozen=True)
class CountryYear:
    """One year of a country's schedule: days off with their names, worked weekend days."""

    holidays: dict[date, str]  # names in English
    workdays: frozenset[date]
    confirmed: bool
    native_names: dict[date, str]  # names in the country's own language (元旦), or English


def _instance(
    country: str, subdivision: str | None, year: int | None, language: str | None = "en_US"
) -> holidays.HolidayBase:
    try:
        return holidays.country_holidays(
            country, subdiv=subdivision, years=year if year is not None else (), language=language
        )
    except NotImplementedError as exc:
        raise UnknownCountry(str(exc)) from exc


def check(country: str, subdivision: str | None) -> None:
    """Refuse a country or subdivision the holidays package does not know."""
    _instance(country, subdivision, None)


@lru_cache(maxsize=256)
def country_year(country: str, subdivision: str | None, year: int) -> CountryYear:
    """Return one year of a country's days off and make-up working days."""
    data = _instance(country, subdivision, year)
    days = {day: str(name) for day, name in data.items() if day.year == year}
    workdays = frozenset(day for day in data.weekend_workdays if day.year == year)
    announced = getattr(data, "special_public_holidays", {})
    confirmed = data.start_year <= year <= data.end_year and not any(
        ESTIMATED in name for name in days.values()
    )
    if country in ANNOUNCED_YEARLY and year not in announced:
        confirmed = False
    native = _instance(country, subdivision, year, language=data.default_language)
    names = {day: str(name) for day, name in native.items() if day.year == year}
    return CountryYear(days, workdays, confirmed, names)
