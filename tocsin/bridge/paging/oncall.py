"""Who is on call: rotations handing off in the schedule's time zone, layers, overrides.

Hand-offs happen at the same wall-clock time in the schedule's zone whatever DST does (a weekly
rotation starting Monday 09:00 hands off every Monday at 09:00 local). Later layers win where
they have someone; an override wins over every layer while it lasts. A schedule with nobody on
call (a gap in the rotation) falls back to the members of a team that uses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import Policy, Rotation, Schedule, Target


@dataclass(frozen=True)
class OnCall:
    """The person on call for a schedule at an instant, and why (a layer or an override)."""

    person: str | None
    layer: int | None = None  # index into Schedule.layers
    override: bool = False


def _wall(at: datetime, zone: ZoneInfo) -> datetime:
    return as_utc(at).astimezone(zone).replace(tzinfo=None)


def layer_on_call(rotation: Rotation, zone: ZoneInfo, at: datetime) -> str | None:
    """Return the member of a rotation on call at an instant (nobody before it starts)."""
    now, start = _wall(at, zone), _wall(rotation.start, zone)
    if now < start:
        return None
    turns = (now - start) // rotation.every
    return rotation.members[turns % len(rotation.members)]


def next_handoff(rotation: Rotation, zone: ZoneInfo, at: datetime) -> datetime:
    """Return the instant (UTC) of the rotation's next hand-off after `at`."""
    now, start = _wall(at, zone), _wall(rotation.start, zone)
    turns = 0 if now < start else (now - start) // rotation.every + 1
    return as_utc((start + turns * rotation.every).replace(tzinfo=zone))


def on_call(schedule: Schedule, at: datetime) -> OnCall:
    """Return who is on call for a schedule at an instant."""
    instant = as_utc(at)
    for override in reversed(schedule.overrides):
        if as_utc(override.start) <= instant < as_utc(override.end):
            return OnCall(override.person, override=True)
    for index in reversed(range(len(schedule.layers))):
        person = layer_on_call(schedule.layers[index], schedule.timezone, instant)
        if person is not None:
            return OnCall(person, layer=index)
    return OnCall(None)


def team_on_call(policy: Policy, team: str, at: datetime) -> tuple[str, ...]:
    """Return whom paging a team reaches: its schedule's on-call person, else every member."""
    found = policy.teams[team]
    if found.schedule is not None:
        person = on_call(policy.schedules[found.schedule], at).person
        if person is not None:
            return (person,)
    return found.members


def _unique(targets: Iterable[Target]) -> tuple[Target, ...]:
    return tuple(dict.fromkeys(targets))


@dataclass(frozen=True)
class Reach:
    """Whom a step's targets reach now, and which targets reach nobody (a gap in a rotation)."""

    targets: tuple[Target, ...]
    unreached: tuple[Target, ...] = ()


def schedule_team(policy: Policy, schedule: str) -> str | None:
    """Return the first team (in policy order) that uses a schedule and has members."""
    return next(
        (t.name for t in policy.teams.values() if t.schedule == schedule and t.members), None
    )


def schedule_on_call(policy: Policy, schedule: str, at: datetime) -> tuple[str, ...]:
    """Return whom paging a schedule reaches: its on-call person, else its team's members."""
    person = on_call(policy.schedules[schedule], at).person
    if person is not None:
        return (person,)
    team = schedule_team(policy, schedule)
    return policy.teams[team].members if team is not None else ()


def reach(policy: Policy, targets: Iterable[Target], at: datetime) -> Reach:
    """Turn targets into the people and channels to page at `at`, naming those reaching nobody.

    A schedule with nobody on call falls back to the members of a team that uses it; a target
    that still reaches nobody is returned in `unreached` so the caller can record it.
    """
    out: list[Target] = []
    unreached: list[Target] = []
    for target in targets:
        people: tuple[str, ...] = ()
        if target.kind in ("person", "channel"):
            out.append(target)
            continue
        if target.kind == "schedule":
            people = schedule_on_call(policy, target.name, at)
        elif target.kind == "team":
            people = team_on_call(policy, target.name, at)
        if people:
            out.extend(Target("person", name) for name in people)
        else:
            unreached.append(target)
    return Reach(_unique(out), _unique(unreached))


def resolve_targets(policy: Policy, targets: Iterable[Target], at: datetime) -> tuple[Target, ...]:
    """Turn schedule and team targets into the people on call at `at`; keep people and channels."""
    return reach(policy, targets, at).targets
