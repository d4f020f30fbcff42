"""`tocsin-bridge report sla …`: the SLA report of a running bridge, through its API.

Like `incidents`, it talks to a bridge with --url and an operator token, so it works from any
workstation and sees exactly what the API and the board show; the bridge renders the format.
"""

from __future__ import annotations

from typing import Any

import click
import requests

from tocsin.bridge.cli.client import DEFAULT_URL, BridgeClient
from tocsin.bridge.errors import (
    AuthError,
    BridgeError,
    ClientError,
    Forbidden,
    InvalidInput,
    NotFound,
)

_BY_STATUS: dict[int, type[BridgeError]] = {
    401: AuthError,
    403: Forbidden,
    404: NotFound,
    400: InvalidInput,
    422: InvalidInput,
}


def api_options(command: Any) -> Any:
    """Add --url, --token and --timeout, from flags or TOCSIN_URL / TOCSIN_TOKEN."""
    command = click.option(
        "--timeout", default=30.0, show_default=True, help="Seconds to wait for the bridge."
    )(command)
    command = click.option(
        "--token", envvar="TOCSIN_TOKEN", default=None, help="Operator token (or TOCSIN_TOKEN)."
    )(command)
    return click.option(
        "--url",
        envvar="TOCSIN_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="Bridge URL (or TOCSIN_URL).",
    )(command)


def get_text(client: BridgeClient, path: str, params: dict[str, Any]) -> str:
    """GET a text answer from the bridge; refusals become the matching BridgeError."""
    url = client.url + path
    try:
        response = client.session.get(url, params=params, timeout=client.timeout)
    except requests.Timeout as exc:
        raise ClientError(f"{client.shown}: no answer within {client.timeout}s") from exc
    except requests.RequestException as exc:
        raise ClientError(f"cannot reach {client.shown}: {type(exc).__name__}") from exc
    if response.status_code >= 400:
        try:
            message = response.json().get("error", response.reason)
        except ValueError:
            message = response.text[:200] or response.reason
        raise _BY_STATUS.get(response.status_code, ClientError)(
            f"{response.status_code}: {message}"
        )
    return response.text


@click.group()
def report() -> None:
    """Reports on how well the response promises were kept."""


@report.command()
@click.option(
    "--since",
    default="7d",
    show_default=True,
    help="RFC 3339 time, or a duration back from now (7d).",
)
@click.option(
    "--until", default=None, help="RFC 3339 time, or a duration back from now; default now."
)
@click.option("--team", default=None, help="Only incidents of this team.")
@click.option("--priority", default=None, help="Only incidents of this priority (P1, P2, …).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
@api_options
def sla(
    since: str,
    until: str | None,
    team: str | None,
    priority: str | None,
    fmt: str,
    url: str,
    token: str | None,
    timeout: float,
) -> None:
    """Print the SLA report of incidents opened in a window, per priority and team."""
    params = {"since": since, "until": until, "team": team, "priority": priority, "format": fmt}
    client = BridgeClient(url, token, timeout=timeout)
    text = get_text(client, "/api/v1/reports/sla", {k: v for k, v in params.items() if v})
    click.echo(text, nl=not text.endswith("\n"))
