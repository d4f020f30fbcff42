"""Options shared by the commands that talk to a running bridge through its API."""

from __future__ import annotations

import functools
from collections.abc import Callable

import click

from tocsin.bridge.cli.client import DEFAULT_URL, BridgeClient

json_option = click.option("--json", "as_json", is_flag=True, help="Print the API's JSON.")


def with_client(group: Callable[[], None]) -> Callable[..., None]:
    """Give a command group --url, --token and --timeout, and its commands a BridgeClient."""

    @click.option(
        "--url",
        envvar="TOCSIN_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="Bridge URL (or TOCSIN_URL).",
    )
    @click.option(
        "--token", envvar="TOCSIN_TOKEN", default=None, help="Operator token (or TOCSIN_TOKEN)."
    )
    @click.option(
        "--timeout", default=10.0, show_default=True, help="Seconds to wait for the bridge."
    )
    @click.pass_context
    @functools.wraps(group)
    def connected(ctx: click.Context, url: str, token: str | None, timeout: float) -> None:
        ctx.obj = BridgeClient(url, token, timeout=timeout)

    return connected
