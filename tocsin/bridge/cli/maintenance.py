"""`tocsin-bridge maintenance start|list|extend|end`: planned work that pages nobody."""

from __future__ import annotations

import json
from typing import Any

import click

from tocsin.bridge.cli.client import BridgeClient
from tocsin.bridge.cli.options import json_option, with_client


@click.group()
@with_client
def maintenance() -> None:
    """Open, list, extend and end maintenance windows of a running bridge.

    New alerts a window covers are held back: stored and shown, paging nobody. When the window
    ends, those still firing open incidents and page at once.
    """


@maintenance.command()
@click.option(
    "--match",
    "matchers",
    multiple=True,
    required=True,
    help="A label matcher: name=value, name!=value or name=~regex (repeatable; all must hold).",
)
@click.option("--for", "duration", required=True, help="How long, such as 30m or 2h.")
@click.option("--reason", required=True, help="Why, for the board and the audit trail.")
@json_option
@click.pass_obj
def start(
    client: BridgeClient, matchers: tuple[str, ...], duration: str, reason: str, as_json: bool
) -> None:
    """Open a window now, e.g. --match instance=db1 --for 30m --reason 'kernel update'."""
    window = client.open_window(
        {"matchers": list(matchers), "duration": duration, "reason": reason, "source": "cli"}
    )
    _print(window, as_json)


@maintenance.command("list")
@json_option
@click.pass_obj
def list_(client: BridgeClient, as_json: bool) -> None:
    """List windows open, upcoming and over within a week, and the policy's weekly windows."""
    found = client.list_windows()
    if as_json:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    if not found["windows"] and not found["weekly"]:
        click.echo("no maintenance windows")
    for window in found["windows"]:
        _print(window, False)
    for weekly in found["weekly"]:
        when = (
            f"until {weekly['ends_at']}"
            if weekly["status"] == "active"
            else f"next {weekly['next_start']}"
        )
        click.echo(
            f"{weekly['key']}  {weekly['status']:8}  {when} ({weekly['timezone']})  "
            f"{' '.join(weekly['matchers'])}  {weekly['reason']}  held: {len(weekly['held'])}"
        )


@maintenance.command()
@click.argument("window_id", type=int)
@click.option("--for", "duration", required=True, help="New length from now, such as 1h.")
@json_option
@click.pass_obj
def extend(client: BridgeClient, window_id: int, duration: str, as_json: bool) -> None:
    """Make an open window end DURATION from now."""
    _print(client.extend_window(window_id, {"duration": duration}), as_json)


@maintenance.command()
@click.argument("window_id", type=int)
@json_option
@click.pass_obj
def end(client: BridgeClient, window_id: int, as_json: bool) -> None:
    """End a window now; what it held that still fires opens incidents and pages."""
    window = client.end_window(window_id)
    _print(window, as_json)
    if not as_json:
        click.echo(f"released: {window['released']} alert(s) still firing opened incidents")


def _print(window: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(window, indent=2, ensure_ascii=False))
        return
    click.echo(
        f"{window['id']}  {window['status']:8}  {window['starts_at']} .. {window['ends_at']}  "
        f"{' '.join(window['matchers'])}  {window['reason']}  by {window['created_by']}  "
        f"held: {len(window['held'])}"
    )
