"""Who hears an incident's SLA warning or breach: the responsible, as the policy names them.

An escalation policy's `sla_notify` lists, per event (sla_warning, sla_breached), targets and
roles resolved when the event fires: `assignee` (a person or a team), `acknowledger` (the
person who acknowledged, if the policy knows them) and `step` (the targets of the step the
incident has reached). Decided without I/O from the incident row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tocsin.bridge.paging.oncall import Reach, reach
from tocsin.bridge.policy.model import EscalationPolicy, Policy, Target


def current_step(escalation: EscalationPolicy, level: int) -> tuple[Target, ...]:
    """Return the targets of the step an incident at escalation `level` has reached."""
    if level < len(escalation.steps):
        return escalation.steps[max(level, 0)].notify
    index = level - len(escalation.steps)
    if index < len(escalation.resolution):
        return escalation.resolution[index].notify
    return escalation.steps[-1].notify if escalation.steps else ()


def _role(policy: Policy, escalation: EscalationPolicy, row: Any, role: str) -> list[Target]:
    """Return whom a role names for an incident row now (nobody when it is not set)."""
    if role == "assignee" and row.assignee:
        kind = "team" if row.assignee in policy.teams else "person"
        return (
            [Target(kind, row.assignee)] if row.assignee in policy.people or kind == "team" else []
        )
    if role == "acknowledger" and row.acknowledged_by in policy.people:
        return [Target("person", row.acknowledged_by)]
    if role == "step":
        return list(current_step(escalation, int(row.escalation_level or 0)))
    return []


def sla_audience(policy: Policy, row: Any, event: str, at: datetime) -> Reach | None:
    """Return whom an SLA event (sla_warning, sla_breached) pages, or None if nobody is named."""
    escalation = policy.escalation_policies.get(row.escalation_policy or "")
    wanted = escalation.sla_notify.get(event.removeprefix("incident.")) if escalation else None
    if escalation is None or not wanted:
        return None
    targets: list[Target] = []
    for target in wanted:
        if target.kind == "role":
            targets.extend(_role(policy, escalation, row, target.name))
        else:
            targets.append(target)
    return reach(policy, targets, at)
