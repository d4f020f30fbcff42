"""tocsin-bridge: the command line. Errors print one line and exit with their code, no traceback.

Owns the `tocsin-bridge` commands (serve, migrate, check-config, incidents, report, kb, outbox,
oncall, users) and the HTTP client they use. May import every package, server included; none imports it.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from tocsin.common.extras import require_bridge

# An agent-only install (no `bridge` extra) or a Python older than the bridge's stops here with
# one line, not a traceback: nothing of the bridge is imported before this check.
require_bridge("tocsin-bridge")
from tocsin.bridge.errors import BridgeError  # noqa: E402


class BridgeGroup(click.Group):
    """A click group that turns any BridgeError of any command into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BridgeError as exc:
            click.echo(f"tocsin-bridge: {exc.message}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=BridgeGroup)
@click.version_option(package_name="tocsin", prog_name="tocsin-bridge")
def main() -> None:
    """Turn alerts into prioritised incidents and keep their response promises."""


from tocsin.bridge.cli import incidents, kb, report, server  # noqa: E402  (commands register on `main`)

main.add_command(server.serve)
main.add_command(server.migrate)
main.add_command(server.check_config)
main.add_command(server.db)
main.add_command(incidents.incidents)
main.add_command(report.report)
main.add_command(kb.kb)
from tocsin.bridge.cli import outbox as outbox_cli  # noqa: E402

main.add_command(outbox_cli.outbox)
from tocsin.bridge.cli import oncall as oncall_cli  # noqa: E402

main.add_command(oncall_cli.oncall)
from tocsin.bridge.cli import calendar as calendar_cli  # noqa: E402

main.add_command(calendar_cli.calendar)
from tocsin.bridge.cli import maintenance as maintenance_cli  # noqa: E402

main.add_command(maintenance_cli.maintenance)
from tocsin.bridge.cli import users as users_cli  # noqa: E402

main.add_command(users_cli.users)
