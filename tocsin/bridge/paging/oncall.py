"""Who is on call: rotations handing off in the schedule's time zone, layers, overrides.

Hand-offs happen at the same wall-clock time in the schedule's zone whatever DST does (a weekly
rotation starting Monday 09:00 hands off every Monday at 09:00 local). Later layers win where
they have someone; an override wins over every layer while it lasts. A schedule with nobody on
call (a gap in the rotation) falls back to the members of a team that uses it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
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


NO_ADDRESS = "has no email and no chat channel"
NOBODY_ON_CALL = "nobody is on call and no team with members uses the schedule"
NO_MEMBERS = "nobody is on call and the team has no members"


@dataclass(frozen=True)
class Reach:
    """Whom a step's targets reach now, which reach nobody and why, and a fallback if one was used."""

    targets: tuple[Target, ...]
    unreached: tuple[Target, ...] = ()
    reasons: Mapping[str, str] = field(default_factory=dict)  # str(target) -> why it reached nobody
    fallback: tuple[Target, ...] = ()  # the step's fallback, paged because nobody else was

    def event_data(self) -> dict[str, Any]:
        """Return what an escalation event records of whom it reached not, and why."""
        data: dict[str, Any] = {}
        if self.unreached:
            data["unreached"] = [str(t) for t in self.unreached]
            data["unreached_reason"] = "; ".join(
                f"{t}: {self.reasons[str(t)]}" for t in self.unreached if str(t) in self.reasons
            )
        if self.fallback:
            data["fallback"] = [str(t) for t in self.fallback]
        return data


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

    A schedule with nobody on call falls back to the members of a team that uses it; a person
    with neither an email address nor a chat channel reaches nobody. Every target that reaches
    nobody is returned in `unreached`, with its reason, so the caller can record it.
    """
    out: list[Target] = []
    reasons: dict[str, str] = {}
    for target in targets:
        people: tuple[str, ...] = ()
        if target.kind == "channel":
            out.append(target)
            continue
        if target.kind == "person":
            people = (target.name,)
        elif target.kind == "schedule":
            people = schedule_on_call(policy, target.name, at)
        elif target.kind == "team":
            people = team_on_call(policy, target.name, at)
        if not people:
            reasons[str(target)] = NO_MEMBERS if target.kind == "team" else NOBODY_ON_CALL
        for name in people:
            person = policy.people.get(name)
            if person is not None and (person.email or person.channels):
                out.append(Target("person", name))
            else:
                reasons.setdefault(f"person:{name}", NO_ADDRESS)
    unreached = tuple(Target(*key.split(":", 1)) for key in reasons)
    return Reach(_unique(out), unreached, reasons)


def reach_step(
    policy: Policy, notify: Iterable[Target], fallback: Iterable[Target], at: datetime
) -> Reach:
    """Reach a step's targets; if they reach nobody at all, page the step's fallback instead."""
    found = reach(policy, notify, at)
    backup = tuple(fallback)
    if found.targets or not backup:
        return found
    spare = reach(policy, backup, at)
    reasons = {**found.reasons, **spare.reasons}
    unreached = _unique((*found.unreached, *spare.unreached))
    return Reach(spare.targets, unreached, reasons, backup if spare.targets else ())


def resolve_targets(policy: Policy, targets: Iterable[Target], at: datetime) -> tuple[Target, ...]:
    """Turn schedule and team targets into the people on call at `at`; keep people and channels."""
    return reach(policy, targets, at).targets
