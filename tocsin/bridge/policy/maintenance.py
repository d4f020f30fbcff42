"""Read the policy's `maintenance:` section: weekly windows for planned work.

maintenance:
  sunday-patching:
    match: ["team=db", "instance=~db.*"]
    days: [sun]
    hours: "02:00-04:00"
    timezone: Asia/Shanghai
    reason: weekly patch window
"""

from __future__ import annotations

from typing import Any

from tocsin.bridge.platform.where import Where, as_list, as_mapping
from tocsin.bridge.policy.calendars import DAYS, clock_time, zone
from tocsin.bridge.policy.matchers import MatcherError, parse_all
from tocsin.bridge.policy.model import MaintenanceSpec
from tocsin.common.yamlsource import shown

KEYS = ("match", "days", "hours", "timezone", "reason")


def parse_maintenance(name: str, raw: Any, where: Where) -> MaintenanceSpec:
    """Parse one weekly window, naming the key and line of anything wrong."""
    raw = as_mapping(raw, where, KEYS)
    for key in ("match", "days", "hours"):
        if key not in raw:
            raise where.error(f"window {shown(name)} needs '{key}'")
    match_where = where.key(raw, "match")
    try:
        matchers = parse_all([str(item) for item in as_list(raw["match"], match_where)])
    except MatcherError as exc:
        raise match_where.error(exc.message) from exc
    days = weekdays(raw["days"], where.key(raw, "days"))
    hours_where = where.key(raw, "hours")
    start_text, sep, end_text = str(raw["hours"]).partition("-")
    if not sep:
        raise hours_where.error(f"{shown(raw['hours'])} is not a span such as '02:00-04:00'")
    start, end = (
        clock_time(start_text.strip(), hours_where),
        clock_time(end_text.strip(), hours_where),
    )
    if start == end:
        raise hours_where.error(f"{shown(raw['hours'])} is empty: start and end are the same")
    return MaintenanceSpec(
        name=name,
        matchers=matchers,
        days=days,
        start=start,
        end=end,
        timezone=zone(raw.get("timezone", "UTC"), where.key(raw, "timezone")),
        reason=str(raw.get("reason", f"weekly window {name}")),
    )


def weekdays(raw: Any, where: Where) -> tuple[int, ...]:
    """Return the weekdays a list names (mon..sun, 0 = Monday), naming a bad one."""
    days = []
    for day in as_list(raw, where):
        if not isinstance(day, str) or day.lower() not in DAYS:
            raise where.error(f"{shown(day)} is not a day; expected one of {', '.join(DAYS)}")
        days.append(DAYS[day.lower()])
    return tuple(sorted(set(days)))
