"""Who is on call at an instant, as data: per schedule and layer, and per team, with full names.

The CLI prints it from a policy file or from a running bridge's API; both read the same shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.paging.oncall import layer_on_call, next_handoff, on_call, team_on_call
from tocsin.bridge.platform.clock import rfc3339
from tocsin.bridge.policy.model import Policy

YEARS = (1970, 9000)  # rotations count hand-offs from their start: keep the arithmetic in range


def parse_instant(text: str, name: str) -> datetime:
    """Return the instant a person typed (RFC 3339; naive times are UTC), or refuse naming `name`."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidInput(
            f"{name} {text!r} is not a time; expected RFC 3339 such as 2026-03-02T09:00:00Z",
            field=name,
        ) from exc
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise InvalidInput(
            f"{name} {text!r} is out of range; expected a year from {YEARS[0]} to {YEARS[1]}",
            field=name,
        )
    return value


def _person(policy: Policy, name: str | None) -> dict[str, str] | None:
    if name is None:
        return None
    found = policy.people.get(name)
    return {"name": name, "full_name": found.full_name if found else name}


def roster(policy: Policy, at: datetime) -> dict[str, Any]:
    """Return who is on call at `at` per schedule (with its layers) and per team."""
    schedules = []
    for name, schedule in policy.schedules.items():
        found = on_call(schedule, at)
        layers = [
            {
                "index": index,
                "person": _person(policy, layer_on_call(layer, schedule.timezone, at)),
                "next_handoff": rfc3339(next_handoff(layer, schedule.timezone, at)),
            }
            for index, layer in enumerate(schedule.layers)
        ]
        schedules.append(
            {
                "name": name,
                "timezone": schedule.timezone.key,
                "person": _person(policy, found.person),
                "override": found.override,
                "layer": found.layer,
                "layers": layers,
            }
        )
    teams = [
        {"name": name, "people": [_person(policy, p) for p in team_on_call(policy, name, at)]}
        for name in policy.teams
    ]
    return {"at": rfc3339(at), "schedules": schedules, "teams": teams}
