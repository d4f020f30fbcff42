"""Escalation choices, free of I/O: which step is due when, whom it pages, and whether it still may.

Two paths run from the moment an incident opens. The response path pages its steps in turn
while nobody has acknowledged, repeating the last step every `repeat`. The resolution path
engages higher levels (expert, then major incident and management) while the incident stays
unresolved. `escalation_level` on the incident counts how far either path has gone: response
step n is level n (the first page is level 0), resolution step i is level len(steps) + i.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tocsin.bridge.paging.oncall import Reach, reach_step
from tocsin.bridge.policy.model import EscalationPolicy, Policy, ResolutionStep, Target

RESPONSE = "response"
OPEN_STATUSES = ("triggered", "acknowledged")


@dataclass(frozen=True)
class Step:
    """One page an escalation policy calls for: when (after the incident opened) and whom."""

    path: str  # "response" or "resolution"
    index: int  # response: 0, 1, … continuing through repeats; resolution: index in the policy
    after: timedelta
    level: str  # "response" on the response path, the step's level name (expert, major) otherwise
    notify: tuple[Target, ...]
    rank: int  # the incident's escalation_level once this step fired
    major: bool = False
    fallback: tuple[Target, ...] = ()  # paged instead when `notify` reaches nobody
    calendar: str | None = None  # the step's (else its policy's) paging hours; sla/paging_hours.py

    def event_data(self, found: Reach) -> dict[str, Any]:
        """Return the incident.escalated payload: level, step, targets, whom it reached not, why."""
        return {
            "level": self.rank,
            "name": self.level,
            "path": self.path,
            "step": self.index,
            "targets": [str(t) for t in found.targets],
            **found.event_data(),
        }

    def reach(self, policy: Policy, at: datetime) -> Reach:
        """Return whom this step pages at `at`: its targets, else its fallback, and who is missed."""
        return reach_step(policy, self.notify, self.fallback, at)


def response_step(policy: EscalationPolicy, index: int) -> Step | None:
    """Return the n-th page of the response path (repeats of the last step included), or None."""
    if not policy.steps or index < 0:
        return None
    last = len(policy.steps) - 1
    if index <= last:
        after = policy.steps[index].after
    elif policy.repeat is not None and policy.repeat > timedelta(0):
        after = policy.steps[last].after + (index - last) * policy.repeat
    else:
        return None
    chosen = policy.steps[min(index, last)]
    return Step(
        RESPONSE,
        index,
        after,
        RESPONSE,
        chosen.notify,
        rank=min(index, last),
        fallback=chosen.fallback,
        calendar=chosen.calendar or policy.calendar,
    )


def resolution_step(policy: EscalationPolicy, index: int, priority: str) -> Step | None:
    """Return the next resolution step at or after `index` that applies to the priority."""
    for position in range(max(index, 0), len(policy.resolution)):
        step: ResolutionStep = policy.resolution[position]
        if step.applies_to(priority):
            return Step(
                "resolution",
                position,
                step.after,
                step.level,
                step.notify,
                rank=len(policy.steps) + position,
                major=step.major,
                fallback=step.fallback,
                calendar=step.calendar or policy.calendar,
            )
    return None


def last_response_step(policy: EscalationPolicy) -> Step | None:
    """Return the last step of the response path (what a page past its end repeats), or None."""
    return response_step(policy, len(policy.steps) - 1)


def last_resolution_step(policy: EscalationPolicy, priority: str) -> Step | None:
    """Return the last resolution step that applies to the priority, or None."""
    for position in reversed(range(len(policy.resolution))):
        if policy.resolution[position].applies_to(priority):
            return resolution_step(policy, position, priority)
    return None


def catch_up(
    step: Step,
    after: Callable[[int], Step | None],
    due: Callable[[Step], datetime],
    now: datetime,
) -> tuple[Step, Step | None, tuple[int, ...]]:
    """Return the latest step already due at `now`, the first not yet due, and those skipped.

    After downtime several steps may have fallen due: the incident pages once, at the step it
    would be at now, rather than a burst of every step it missed. `after(i)` is the path's
    i-th step (None past its end); `due(step)` is when a step pages (sla/paging_hours.py).
    """
    skipped: list[int] = []
    following = after(step.index + 1)
    while following is not None and due(following) <= now:
        skipped.append(step.index)
        step = following
        following = after(step.index + 1)
    return step, following, tuple(skipped)


def may_page(step: Step, status: str, paused: bool) -> bool:
    """Return whether a due step still pages: response only unacknowledged, resolution only open."""
    if paused:
        return False
    if step.path == RESPONSE:
        return status == "triggered"
    return status in OPEN_STATUSES
