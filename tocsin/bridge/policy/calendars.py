"""Read the `calendars` section of a policy: working days and hours, country data, local overrides."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tocsin.bridge.platform.where import Where, as_list, as_mapping
from tocsin.bridge.policy.country import UnknownCountry, check
from tocsin.bridge.policy.model import Calendar
from tocsin.common.yamlsource import shown

DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
KEYS = ("timezone", "days", "hours", "holidays", "workdays", "country", "subdivision")


def zone(raw: Any, where: Where) -> ZoneInfo:
    """Return the IANA time zone a key names."""
    if not isinstance(raw, str) or not raw:
        raise where.error(f"expected a non-empty string, got {where.show(raw)}")
    try:
        return ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise where.error(
            f"unknown time zone {shown(raw)}; expected an IANA name such as 'Asia/Shanghai'"
        ) from exc


def clock_time(raw: Any, where: Where) -> time:
    """Return a time of day written HH:MM; 24:00 becomes time.max, the next midnight."""
    try:
        hour, minute = (raw if isinstance(raw, str) else "").split(":")
        if hour == "24" and minute == "00":
            return time.max
        return time(int(hour), int(minute))
    except ValueError as exc:
        raise where.error(
            f"{shown(raw)} is not a time of day; expected HH:MM such as '09:00'"
        ) from exc


def _date(raw: Any, where: Where) -> date:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    try:
        return date.fromisoformat(raw if isinstance(raw, str) else "")
    except ValueError as exc:
        raise where.error(f"{shown(raw)} is not a date; expected YYYY-MM-DD") from exc


def _days(raw: Mapping[str, Any], where: Where) -> frozenset[int]:
    days = set()
    days_where = where.key(raw, "days")
    for index, day in enumerate(as_list(raw.get("days", list(DAYS)[:5]), days_where)):
        if not isinstance(day, str) or day.lower() not in DAYS:
            raise days_where.key(raw.get("days"), index).error(
                f"{shown(day)} is not a day; expected one of {', '.join(DAYS)}"
            )
        days.add(DAYS[day.lower()])
    return frozenset(days)


def _hours(raw: Mapping[str, Any], where: Where) -> tuple[tuple[time, time], ...]:
    spans: list[tuple[time, time]] = []
    hours_where = where.key(raw, "hours")
    for index, span in enumerate(as_list(raw.get("hours", ["09:00-18:00"]), hours_where)):
        at = hours_where.key(raw.get("hours"), index)
        if not isinstance(span, str) or span.count("-") != 1:
            raise at.error(f"{shown(span)} is not a span of hours; expected 'HH:MM-HH:MM'")
        start, end = (clock_time(part.strip(), at) for part in span.split("-"))
        if start >= end:
            raise at.error(f"{shown(span)} ends before it starts")
        spans.append((start, end))
    spans.sort()
    for (_, end), (start, _) in zip(spans, spans[1:], strict=False):
        if start < end:
            raise hours_where.error(
                f"spans overlap at {start.strftime('%H:%M')}; working hours must not overlap"
            )
    return tuple(spans)


def _dates(raw: Mapping[str, Any], key: str, where: Where) -> frozenset[date]:
    at = where.key(raw, key)
    return frozenset(_date(day, at) for day in as_list(raw.get(key), at))


def _country(raw: Mapping[str, Any], where: Where) -> tuple[str | None, str | None]:
    country, subdivision = raw.get("country"), raw.get("subdivision")
    if country is None:
        if subdivision is not None:
            raise where.key(raw, "subdivision").error("a subdivision needs 'country' too")
        return None, None
    if not isinstance(country, str) or not country:
        raise where.key(raw, "country").error(
            f"{shown(country)} is not a country; expected an ISO 3166 code such as 'CN'"
        )
    if subdivision is not None and not isinstance(subdivision, str):
        subdivision = str(subdivision)
    try:
        check(country.upper(), subdivision)
    except UnknownCountry as exc:
        key = "subdivision" if subdivision is not None and "subdivision" in str(exc) else "country"
        raise where.key(raw, key).error(
            f"no holiday data for {shown(country)}"
            + (f" subdivision {shown(subdivision)}" if subdivision is not None else "")
            + "; expected an ISO 3166 code the holidays package knows, such as 'CN'"
        ) from exc
    return country.upper(), subdivision


def parse_calendar(name: str, raw: Any, where: Where) -> Calendar:
    """Build one calendar, refusing a date listed both as a holiday and as a working day."""
    raw = as_mapping(raw, where, KEYS)
    days, spans = _days(raw, where), _hours(raw, where)
    if not spans or not days:
        raise where.error("a calendar needs at least one working day and one span of hours")
    holidays = _dates(raw, "holidays", where)
    workdays = _dates(raw, "workdays", where)
    both = sorted(holidays & workdays)
    if both:
        listed = where.key(raw, "holidays").line
        raise where.key(raw, "workdays").error(
            f"{both[0].isoformat()} is also listed under 'holidays' (line {listed}); "
            "a date is either a holiday or a working day"
        )
    country, subdivision = _country(raw, where)
    timezone = zone(raw.get("timezone", "UTC"), where.key(raw, "timezone"))
    return Calendar(name, timezone, days, spans, holidays, workdays, country, subdivision)
