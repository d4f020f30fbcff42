"""`tocsin-bridge oncall`: who is on call now (or at --at), per schedule, layer and team."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.paging.oncall import layer_on_call, next_handoff, on_call, team_on_call
from tocsin.bridge.platform.clock import rfc3339, utcnow
from tocsin.bridge.platform.config import load_config
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.policy.model import Policy


def parse_at(text: str | None) -> datetime:
    """Return the instant named on the command line (RFC 3339; naive times are UTC), or now."""
    if text is None:
        return utcnow()
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(
            f"--at {text!r} is not a time; expected RFC 3339 such as 2026-03-02T09:00:00Z"
        ) from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def render(policy: Policy, at: datetime) -> list[str]:
    """Return the lines that show who is on call at an instant."""
    lines = [f"on call at {rfc3339(at)}"]
    for name, schedule in policy.schedules.items():
        found = on_call(schedule, at)
        why = "override" if found.override else f"layer {found.layer}"
        who = f"{found.person} ({why})" if found.person else "nobody"
        lines.append(f"schedule {name} [{schedule.timezone.key}]: {who}")
        for index, layer in enumerate(schedule.layers):
            person = layer_on_call(layer, schedule.timezone, at) or "nobody"
            handoff = rfc3339(next_handoff(layer, schedule.timezone, at))
            lines.append(f"  layer {index}: {person}, next hand-off {handoff}")
    for name in policy.teams:
        lines.append(f"team {name}: {', '.join(team_on_call(policy, name, at)) or 'nobody'}")
    return lines


@click.command()
@click.option("--at", "at_text", metavar="TIME", help="Show the on-call at this time (RFC 3339).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bridge config file naming the policy (default: the bundled policy).",
)
def oncall(at_text: str | None, config_path: Path | None) -> None:
    """Show who is on call per schedule, layer and team."""
    config = load_config(config_path)
    policy = load_policy(config.policy)
    for line in render(policy, parse_at(at_text)):
        click.echo(line)
