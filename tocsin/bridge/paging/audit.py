"""Find, before anyone is paged, the people a policy pages who could never be reached."""

from __future__ import annotations

from collections.abc import Iterator

from tocsin.bridge.policy.model import Policy, Target


def _people(policy: Policy, target: Target) -> Iterator[str]:
    """Yield everyone a target may page at some time: the person, a schedule's or team's members."""
    if target.kind == "person":
        yield target.name
    elif target.kind == "schedule":
        schedule = policy.schedules[target.name]
        for layer in schedule.layers:
            yield from layer.members
        yield from (override.person for override in schedule.overrides)
        yield from (
            m for t in policy.teams.values() if t.schedule == target.name for m in t.members
        )
    elif target.kind == "team":
        team = policy.teams[target.name]
        yield from team.members
        if team.schedule is not None:
            yield from _people(policy, Target("schedule", team.schedule))


def paged_people(policy: Policy) -> dict[str, list[str]]:
    """Return each person any escalation step may page, with the policies that page them."""
    found: dict[str, list[str]] = {}
    for name, escalation in policy.escalation_policies.items():
        targets = [t for step in escalation.steps for t in (*step.notify, *step.fallback)]
        targets += [t for step in escalation.resolution for t in (*step.notify, *step.fallback)]
        for target in targets:
            for person in _people(policy, target):
                if name not in found.setdefault(person, []):
                    found[person].append(name)
    return found


def unreachable(policy: Policy, *, smtp: bool) -> list[str]:
    """Return one warning per paged person who has no way to be reached (mail needs `smtp:`)."""
    warnings = []
    for name, policies in sorted(paged_people(policy).items()):
        person = policy.people[name]
        by = ", ".join(policies)
        if not person.email and not person.channels:
            warnings.append(
                f"person {name!r} (paged by escalation policy {by}) has no email and no "
                "channels: their pages reach nobody; give them 'email:' or 'channels:'"
            )
        elif person.email and not person.channels and not smtp:
            warnings.append(
                f"person {name!r} (paged by escalation policy {by}) has only 'email:' but the "
                "bridge config has no 'smtp:' section: their mail pages cannot be sent"
            )
    return warnings
