"""`tocsin-bridge kb search TEXT`: find how past incidents were solved, in English or Chinese."""

from __future__ import annotations

import json

import click

from tocsin.bridge.cli.client import BridgeClient
from tocsin.bridge.cli.report import api_options, get_text


@click.group()
def kb() -> None:
    """The knowledge base of resolved incidents."""


@kb.command()
@click.argument("text", nargs=-1, required=True)
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 50))
@click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")
@api_options
def search(
    text: tuple[str, ...], limit: int, as_json: bool, url: str, token: str | None, timeout: float
) -> None:
    """Find past root causes and solutions by words."""
    client = BridgeClient(url, token, timeout=timeout)
    answer = json.loads(
        get_text(client, "/api/v1/kb/search", {"q": " ".join(text), "limit": limit})
    )
    if as_json:
        click.echo(json.dumps(answer, indent=2, ensure_ascii=False))
        return
    if not answer["results"]:
        click.echo("no past incident matches")
        return
    for found in answer["results"]:
        click.echo(
            f"#{found['id']} [{found['priority']}] {found['title']}  (score {found['score']:.2f})"
        )
        click.echo(f"  root cause: {found['root_cause'] or '-'}")
        click.echo(f"  solution:   {found['solution'] or '-'}")
