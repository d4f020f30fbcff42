"""Parse the window people ask for and report on it with the policy's calendars and targets."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection

from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import CLOCKS, Policy
from tocsin.bridge.reports.aggregate import Window
from tocsin.bridge.reports.build import build_report
from tocsin.bridge.reports.figures import SlaReport
from tocsin.common.durations import parse_duration

DEFAULT_PERIOD = "7d"


def parse_instant(text: str, now: datetime, name: str) -> datetime:
    """Return the instant RFC 3339 text names, or now minus a duration such as '7d'."""
    value = text.strip()
    try:
        return now - timedelta(seconds=parse_duration(value, numbers=True))
    except ValueError:
        pass
    except OverflowError as exc:
        raise InvalidInput(f"{name} {text!r} reaches back before the year 1", field=name) from exc
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"{name} {text!r} is neither RFC 3339 (2026-03-02T09:00:00Z) nor a duration back from now (7d)",
            field=name,
        ) from exc
    if parsed.tzinfo is None:
        raise InvalidInput(
            f"{name} {text!r} has no time zone; add Z or an offset such as +08:00", field=name
        )
    try:
        return as_utc(parsed)
    except OverflowError as exc:
        raise InvalidInput(f"{name} {text!r} is out of range in UTC", field=name) from exc


def parse_window(since: str | None, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """Return [since, until): until defaults to now, since to seven days before until."""
    end = parse_instant(until, now, "until") if until else now
    start = (
        parse_instant(since, now, "since")
        if since
        else end - timedelta(seconds=parse_duration(DEFAULT_PERIOD))
    )
    if start >= end:
        raise InvalidInput(
            f"since ({since}) must be before until ({until or 'now'})", field="since"
        )
    return start, end


def targets_of(policy: Policy, priority: str | None = None) -> dict[str, dict[str, float | None]]:
    """Return each priority's targets in seconds (None where a clock is not kept)."""
    found: dict[str, dict[str, float | None]] = {}
    for key, rules in policy.priorities.items():
        if priority is None or key == priority:
            found[key] = {
                clock: (target.total_seconds() if (target := rules.target(clock)) else None)
                for clock in CLOCKS
            }
    return found


def load_report(
    conn: Connection,
    policy: Policy,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    team: str | None = None,
    priority: str | None = None,
) -> SlaReport:
    """Report on the incidents opened in [since, until) (optionally one team or priority)."""
    filters = {k: v for k, v in (("team", team), ("priority", priority)) if v is not None}
    return build_report(
        conn,
        Window(since, until, team, priority),
        now=now,
        calendars={key: policy.calendar_for(key) for key in policy.priorities},
        targets=targets_of(policy, priority),
        filters=filters,
    )
