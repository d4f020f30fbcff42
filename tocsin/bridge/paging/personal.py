"""How and when a paged person is reached, by their own rules, free of I/O.

A person's rule for the incident's priority lists steps (a method, `after` the page); each step
fires while the page still asks something of them. A step falling in their quiet hours waits
until the hours end, unless the priority is one that reaches them at any hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import Person, QuietHours


@dataclass(frozen=True)
class Planned:
    """One step of a person's rule for one page: its index, method, and when it fires."""

    index: int
    via: str
    due: datetime
    held: bool = False  # moved past the person's quiet hours


def quiet_until(quiet: QuietHours, at: datetime) -> datetime | None:
    """Return when the quiet hours `at` falls in end (UTC), or None outside them."""
    local = as_utc(at).astimezone(quiet.timezone)
    now = local.time().replace(tzinfo=None)
    day = local.date()
    if quiet.start < quiet.end:
        inside = quiet.start <= now < quiet.end
    else:  # past midnight: 22:00-07:00 is quiet after 22:00 and before 07:00
        inside = now >= quiet.start or now < quiet.end
        if now >= quiet.start:
            day += timedelta(days=1)
    if not inside:
        return None
    return as_utc(datetime.combine(day, quiet.end, tzinfo=quiet.timezone))


def held_until(person: Person, priority: str, at: datetime) -> datetime | None:
    """Return when a step due `at` may fire, if the person's quiet hours hold it; else None."""
    if person.quiet is None or priority in person.quiet.always:
        return None
    return quiet_until(person.quiet, at)


def plan(person: Person, priority: str, at: datetime) -> list[Planned] | None:
    """Return the steps a page at `at` takes to the person, or None when they have no rule."""
    rule = person.rule_for(priority)
    if rule is None:
        return None
    steps = []
    for index, step in enumerate(rule):
        due = at + step.after
        held = held_until(person, priority, due)
        steps.append(Planned(index, step.via, held or due, held is not None))
    return steps
