"""`tocsin-bridge calendar`: check a business calendar's year, or when a clock started at a time falls due."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.platform.clock import rfc3339, utcnow
from tocsin.bridge.platform.config import load_config
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.policy.model import Calendar, Policy
from tocsin.bridge.timers import calendar as business
from tocsin.bridge.timers.calendar_days import CalendarYear, calendar_year
from tocsin.common.durations import parse_duration

KINDS = {"holiday": "day off", "workday": "working day"}


def pick(policy: Policy, name: str) -> Calendar:
    """Return the calendar a policy defines under `name`, or say which ones it has."""
    if name not in policy.calendars:
        known = ", ".join(policy.calendars) or "none"
        raise InvalidInput(f"no calendar {name!r} in {policy.source}; its calendars: {known}")
    return policy.calendars[name]


def parse_start(text: str, calendar: Calendar) -> datetime:
    """Return the START instant; a time without an offset is in the calendar's time zone."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"START {text!r} is not a time; expected e.g. 2026-04-30T17:00 (in "
            f"{calendar.timezone.key}) or 2026-04-30T09:00:00Z"
        ) from exc
    return value.replace(tzinfo=calendar.timezone) if value.tzinfo is None else value


def parse_span(text: str) -> timedelta:
    """Return the DURATION of business time, e.g. 8h."""
    try:
        return timedelta(seconds=parse_duration(text))
    except ValueError as exc:
        raise InvalidInput(f"DURATION: {exc}") from exc


def year_json(name: str, calendar: Calendar, listing: CalendarYear) -> dict[str, Any]:
    """Return the year's special days as the --json output shows them."""
    return {
        "calendar": name,
        "timezone": calendar.timezone.key,
        "country": calendar.country,
        "subdivision": calendar.subdivision,
        "year": listing.year,
        "confirmed": listing.confirmed,
        "days": [
            {
                "date": day.day.isoformat(),
                "kind": day.kind,
                "source": day.source,
                "name": day.name,
                "local_name": day.local_name,
            }
            for day in listing.days
        ],
    }


def year_lines(name: str, calendar: Calendar, listing: CalendarYear) -> list[str]:
    """Return the year's special days as lines for a person."""
    where = f"{calendar.country}" + (f"-{calendar.subdivision}" if calendar.subdivision else "")
    lines = [
        f"calendar {name} [{calendar.timezone.key}], {listing.year}"
        + (f", country data {where}" if calendar.country else ", no country data")
    ]
    for day in listing.days:
        label = day.name if day.local_name in ("", day.name) else f"{day.name} ({day.local_name})"
        source = "local override" if day.source == "local" else f"country {day.source}"
        lines.append(
            f"{day.day.isoformat()} {day.day:%a}  {KINDS[day.kind]:<11}  {source:<14}  {label}".rstrip()
        )
    if not listing.days:
        lines.append("no holidays or make-up working days")
    return lines


def unconfirmed(calendar: Calendar, year: int) -> str:
    """Return the warning for a year whose country schedule the holidays package lacks."""
    return (
        f"warning: no confirmed {calendar.country} holiday data for {year}: its days off and "
        "make-up working days may be wrong; list them under the calendar's 'holidays' and "
        "'workdays', or upgrade the holidays package"
    )


def due_json(
    name: str, start: datetime, span: timedelta, due: datetime, zone: Any
) -> dict[str, Any]:
    """Return a due-time answer as the --json output shows it."""
    return {
        "calendar": name,
        "start": rfc3339(start),
        "business_seconds": span.total_seconds(),
        "due_at": rfc3339(due),
        "due_local": due.astimezone(zone).isoformat(),
    }


@click.command()
@click.argument("name")
@click.option("--year", type=click.IntRange(1, 9998), help="Year to list (default: this year).")
@click.option(
    "--due",
    nargs=2,
    metavar="START DURATION",
    help="Print when a clock started at START (e.g. 2026-04-30T17:00, in the calendar's zone "
    "unless it has an offset) with DURATION of business time (e.g. 8h) falls due.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bridge config file naming the policy (default: the bundled policy).",
)
def calendar(
    name: str,
    year: int | None,
    due: tuple[str, str] | None,
    as_json: bool,
    config_path: Path | None,
) -> None:
    """List a calendar's holidays and make-up working days for a year, with their source.

    With --due, print instead when business time started at START runs out.
    """
    policy = load_policy(load_config(config_path).policy)
    chosen = pick(policy, name)
    if due is not None:
        if year is not None:
            raise InvalidInput("--year and --due go separately: --due takes its year from START")
        start, span = parse_start(due[0], chosen), parse_span(due[1])
        at = business.add(chosen, start, span)
        answer = due_json(name, start, span, at, chosen.timezone)
        if as_json:
            click.echo(json.dumps(answer, ensure_ascii=False))
        else:
            local = at.astimezone(chosen.timezone)
            click.echo(
                f"due {local:%a %Y-%m-%d %H:%M} {chosen.timezone.key} ({answer['due_at']}): "
                f"{due[1]} of business time on calendar {name} from {rfc3339(start)}"
            )
        _warn_years(chosen, {start.astimezone(UTC).year, at.year})
        return
    listing = calendar_year(chosen, year if year is not None else utcnow().year)
    if as_json:
        click.echo(json.dumps(year_json(name, chosen, listing), ensure_ascii=False))
    else:
        for line in year_lines(name, chosen, listing):
            click.echo(line)
    if not listing.confirmed:
        click.echo(unconfirmed(chosen, listing.year), err=True)


def _warn_years(chosen: Calendar, years: set[int]) -> None:
    for year in sorted(years):
        if chosen.country is not None and not calendar_year(chosen, year).confirmed:
            click.echo(unconfirmed(chosen, year), err=True)
