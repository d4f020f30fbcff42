"""When an escalation step pages: its `after` counted in its calendar's working time, if it has one.

An escalation policy (or one step) may follow a calendar: then a step's `after` is working time
from the incident's opening, so outside working hours the step waits for the next working period
instead of paging, and the steps after it keep their spacing. The priorities the policy lists
under `around_the_clock`, and always the policy's most urgent priority (P1), page at any hour.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from tocsin.bridge.paging.escalation import Step, response_step
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import Calendar, EscalationPolicy, Policy
from tocsin.bridge.timers import calendar as business


def base_time(row: Any) -> datetime:
    """Return when the escalation paths count from: opening time plus all time spent paused."""
    paused = row.paused_seconds
    opened = as_utc(row.created_at)
    return opened + timedelta(seconds=float(paused)) if paused else opened


def paging_calendar(
    policy: Policy, escalation: EscalationPolicy, priority: str, step: Step
) -> Calendar | None:
    """Return the calendar whose hours a step pages in for a priority; None pages at any hour."""
    if step.calendar is None or priority in escalation.around_the_clock:
        return None
    if priority == next(iter(policy.priorities), None):
        return None
    return policy.calendars.get(step.calendar)


def step_due(policy: Policy, escalation: EscalationPolicy, row: Any, step: Step) -> datetime:
    """Return when a step of an incident pages: `after` from its opening, in paging hours."""
    calendar = paging_calendar(policy, escalation, row.priority, step)
    base = base_time(row)
    if calendar is None:
        return base + step.after
    # From the first working instant: a step with `after: 0m` waits for working hours too.
    start = next(business.intervals_from(calendar, base))[0]
    return business.add(calendar, start, step.after)


def paging_resumes(policy: Policy, row: Mapping[Any, Any], now: datetime) -> datetime | None:
    """Return when paging of an unacknowledged incident resumes (in its calendar's zone), if paused."""
    escalation = policy.escalation_policies.get(row["escalation_policy"] or "")
    first = response_step(escalation, 0) if escalation is not None else None
    if escalation is None or first is None or row["status"] != "triggered" or row["paused"]:
        return None
    calendar = paging_calendar(policy, escalation, row["priority"], first)
    if calendar is None or business.is_business_time(calendar, now):
        return None
    return next(business.intervals_from(calendar, as_utc(now)))[0].astimezone(calendar.timezone)
