"""`tocsin-bridge oncall`: who is on call now (or at --at), per schedule, layer and team, by name.

With --url (or TOCSIN_URL) it asks the running bridge, which knows the policy it runs on;
otherwise it reads the policy named by --config (default: the bundled policy).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

from tocsin.bridge.cli.client import BridgeClient
from tocsin.bridge.paging.roster import parse_instant, roster
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.platform.config import load_config
from tocsin.bridge.policy.load import load_policy


def parse_at(text: str | None) -> datetime:
    """Return the instant named on the command line (RFC 3339; naive times are UTC), or now."""
    return utcnow() if text is None else parse_instant(text, "--at")


def _who(person: dict[str, str] | None, why: str = "") -> str:
    """Say a person as 'Full Name (name; why)', or 'name (why)' when the policy gives no name."""
    if person is None:
        return "nobody"
    notes = [n for n in (person["name"] if person["full_name"] != person["name"] else "", why) if n]
    shown = person["full_name"]
    return f"{shown} ({'; '.join(notes)})" if notes else shown


def render(found: dict[str, Any]) -> list[str]:
    """Return the lines that show who is on call, from a roster (local or the API's)."""
    lines = [f"on call at {found['at']}"]
    for schedule in found["schedules"]:
        why = "override" if schedule["override"] else f"layer {schedule['layer']}"
        who = _who(schedule["person"], why) if schedule["person"] else "nobody"
        lines.append(f"schedule {schedule['name']} [{schedule['timezone']}]: {who}")
        for layer in schedule["layers"]:
            person = _who(layer["person"])
            lines.append(
                f"  layer {layer['index']}: {person}, next hand-off {layer['next_handoff']}"
            )
    for team in found["teams"]:
        people = ", ".join(_who(p) for p in team["people"]) or "nobody"
        lines.append(f"team {team['name']}: {people}")
    return lines


@click.command()
@click.option("--at", "at_text", metavar="TIME", help="Show the on-call at this time (RFC 3339).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Bridge config file naming the policy (default: the bundled policy).",
)
@click.option("--url", envvar="TOCSIN_URL", default=None, help="Ask this running bridge.")
@click.option(
    "--token", envvar="TOCSIN_TOKEN", default=None, help="Operator token (or TOCSIN_TOKEN)."
)
def oncall(
    at_text: str | None, config_path: Path | None, url: str | None, token: str | None
) -> None:
    """Show who is on call per schedule, layer and team."""
    at = parse_at(at_text)
    if url and config_path is None:
        found = BridgeClient(url, token).get_oncall(at if at_text else None)
    else:
        found = roster(load_policy(load_config(config_path).policy), at)
    for line in render(found):
        click.echo(line)
