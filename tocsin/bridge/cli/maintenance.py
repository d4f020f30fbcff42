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
@click.option(
    "--every",
    "days",
    multiple=True,
    help="Weekly on these days: mon..sun (repeatable or 'sat,sun'); needs --at.",
)
@click.option("--at", "start", help="With --every: the local start time, such as 02:00.")
@click.option("--zone", default="UTC", show_default=True, help="With --every: an IANA time zone.")
@click.option("--first", help="With --every: the first date it may open (YYYY-MM-DD, local).")
@click.option("--until", help="With --every: the last date it may open (YYYY-MM-DD, local).")
@json_option
@click.pass_obj
def start(
    client: BridgeClient,
    matchers: tuple[str, ...],
    duration: str,
    reason: str,
    days: tuple[str, ...],
    start: str | None,
    zone: str,
    first: str | None,
    until: str | None,
    as_json: bool,
) -> None:
    """Open a window now, or a weekly one.

    Now: --match instance=db1 --for 30m --reason 'kernel update'.
    Weekly: --match team=db --every sun --at 02:00 --for 2h --zone Asia/Shanghai --reason patching.
    """
    body: dict[str, Any] = {"matchers": list(matchers), "duration": duration, "reason": reason}
    if not days:
        if start or first or until or zone != "UTC":
            raise click.UsageError("--at, --zone, --first and --until go with --every")
        _print(client.open_window(body | {"source": "cli"}), as_json)
        return
    if start is None:
        raise click.UsageError("--every needs --at, the local start time such as 02:00")
    every = [day.strip() for text in days for day in text.split(",") if day.strip()]
    weekly = {"days": every, "start": start, "timezone": zone, "first": first, "until": until}
    _print(client.open_window(body | weekly | {"source": "cli"}), as_json)


@maintenance.command("list")
@json_option
@click.pass_obj
def list_(client: BridgeClient, as_json: bool) -> None:
    """List windows open, upcoming and over within a week, and weekly ones with their next start."""
    found = client.list_windows()
    if as_json:
        click.echo(json.dumps(found, indent=2, ensure_ascii=False))
        return
    if not found["windows"] and not found["weekly"]:
        click.echo("no maintenance windows")
    for window in found["windows"] + found["weekly"]:
        _print(window, False)


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
    held = f"held: {len(window['held'])}"
    if "every" not in window:
        click.echo(
            f"{window['id']}  {window['status']:8}  {window['starts_at']} .. {window['ends_at']}  "
            f"{' '.join(window['matchers'])}  {window['reason']}  by {window['created_by']}  {held}"
        )
        return
    if window["status"] == "active":
        when = f"until {window['ends_at']}"
    elif window["next_start"]:
        when = f"next {window['next_start']}"
    else:
        when = "no start within a week"
    click.echo(
        f"{window['id'] or window['key']}  {window['status']:8}  every {window['every']}  {when}  "
        f"{' '.join(window['matchers'])}  {window['reason']}  ({window['source']})  {held}"
    )
