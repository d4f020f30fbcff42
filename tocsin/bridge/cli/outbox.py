"""`tocsin-bridge outbox list|retry`: look at undelivered notifications and send them again."""

from __future__ import annotations

import json
from typing import Any

import click

from tocsin.bridge.cli.client import BridgeClient
from tocsin.bridge.cli.report import api_options


class OutboxClient(BridgeClient):
    """The bridge client plus the outbox endpoints."""

    def list_outbox(self, status: str | None, limit: int) -> dict[str, Any]:
        """Return outbox entries newest first and the pending/dead counts."""
        params: dict[str, Any] = {"limit": limit}
        if status:
            params["status"] = status
        return self._call("GET", "/api/v1/outbox", params=params)

    def retry_outbox(self, entry_id: int) -> dict[str, Any]:
        """Make one entry due again."""
        return self._call("POST", f"/api/v1/outbox/{entry_id}/retry")


@click.group()
def outbox() -> None:
    """Notifications waiting for delivery, and dead letters."""


@outbox.command("list")
@click.option(
    "--status", type=click.Choice(["pending", "delivered", "dead", "dropped"]), default=None,
    help="Only entries of this status (default: all).",
)  # fmt: skip
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@api_options
def list_(
    status: str | None, limit: int, as_json: bool, url: str, token: str | None, timeout: float
) -> None:
    """List outbox entries, newest first, with why the failed ones failed."""
    answer = OutboxClient(url, token, timeout=timeout).list_outbox(status, limit)
    if as_json:
        click.echo(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    counts = answer["counts"]
    click.echo(f"pending {counts['pending']}, dead {counts['dead']}")
    for entry in answer["entries"]:
        to = f" ({entry['recipient']})" if entry["recipient"] else ""
        about = f"incident #{entry['incident_id']} " if entry["incident_id"] is not None else ""
        click.echo(
            f"#{entry['id']} {entry['status']} {entry['channel']}{to} {about}"
            f"{entry['event']} attempts {entry['attempts']}"
        )
        if entry["last_error"]:
            click.echo(f"  last error: {entry['last_error']}")


@outbox.command()
@click.argument("entry_ids", type=int, nargs=-1, required=True)
@api_options
def retry(entry_ids: tuple[int, ...], url: str, token: str | None, timeout: float) -> None:
    """Send dead (or waiting) entries again now, with a fresh set of attempts."""
    client = OutboxClient(url, token, timeout=timeout)
    for entry_id in entry_ids:
        entry = client.retry_outbox(entry_id)
        click.echo(f"#{entry['id']} {entry['status']}: due again now")
