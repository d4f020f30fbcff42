"""The `tocsin-agent` command: run, sample, check-config, rules export.

Every command works without a config file, on the defaults. A fault prints one line naming
what is wrong and exits non-zero (78 for config faults); never a traceback.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from tocsin.agent.config import AgentConfig, config_warnings, default_config, load_config
from tocsin.agent.errors import AgentError
from tocsin.agent.logformat import FORMATS, formatter
from tocsin.common.extras import package_version
from tocsin.common.journal import configure_logging, on_journal

# Not dir_okay=False: click would answer a directory with a usage error (exit 2), not exit 78.
PATH = click.Path(path_type=Path)


class _Group(click.Group):
    """A click group that turns agent faults into one line on stderr and their exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AgentError as exc:
            click.echo(f"tocsin-agent: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            ctx.exit(130)


def _config(path: Path | None) -> AgentConfig:
    return load_config(path) if path is not None else default_config()


@click.group(cls=_Group)
@click.version_option(package_version(), prog_name="tocsin-agent")
def main() -> None:
    """Sample this host, serve /metrics, evaluate threshold rules and push alerts."""


@main.command()
@click.option(
    "--config", "config_path", type=PATH, help="Agent config (YAML); defaults if omitted."
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
)
@click.option(
    "--log-format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    envvar="TOCSIN_AGENT_LOG_FORMAT",
    help="text for a person; logfmt or json: one record a line, with time and priority.",
)
def run(config_path: Path | None, log_level: str, log_format: str) -> None:
    """Run the agent until SIGTERM; SIGHUP reloads the config."""
    from tocsin.agent.daemon import Agent, install_signals
    from tocsin.common.sdnotify import Notifier

    configure_logging(log_level, sys.stderr, os.environ, "%(levelname)s %(name)s: %(message)s")
    structured = formatter(log_format, on_journal(os.environ, sys.stderr))
    if structured is not None:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(structured)
    config = _config(config_path)
    agent = Agent(config, notifier=Notifier(os.environ), settle_collector=True)
    install_signals(agent)
    agent.run(reload=lambda: _config(config_path))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text for a person.")
@click.option("--config", "config_path", type=PATH, help="Take the sampler settings from here.")
@click.option(
    "--pause",
    type=click.FloatRange(0, 60),
    default=1.0,
    show_default=True,
    help="Seconds between the two passes that give rates.",
)
def sample(as_json: bool, config_path: Path | None, pause: float) -> None:
    """Take one sample of this host and print it."""
    from tocsin.agent.render import render_json, render_text
    from tocsin.agent.sampler import Sampler, sample_with_rates

    sampler = Sampler(**_config(config_path).sampler.options())
    try:
        taken = sample_with_rates(sampler, pause)
    finally:
        sampler.close()
    click.echo(render_json(taken) if as_json else render_text(taken), nl=False)


@main.command("check-config")
@click.argument("path", type=PATH)
def check_config(path: Path) -> None:
    """Validate a config file and the rules it names; exit 78 if anything is wrong."""
    config = load_config(path)
    receivers = ", ".join(push.display for push in config.receivers)
    push = f"pushing to {receivers}" if receivers else "not pushing"
    listen = (
        f"/metrics on {config.listen[0]}:{config.listen[1]}" if config.listen else "no /metrics"
    )
    click.echo(f"{path}: OK: {len(config.rules)} rules, {listen}, {push}")
    for warning in config_warnings(config):
        click.echo(f"{path}: warning: {warning}", err=True)


@main.command("dead-letters")
@click.option("--config", "config_path", type=PATH, help="Agent config whose state_dir to read.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON lines instead of a table.")
@click.option(
    "--clear",
    is_flag=True,
    help="Forget them all, so the running agent may send those alerts again.",
)
def dead_letters(config_path: Path | None, as_json: bool, clear: bool) -> None:
    """List the alerts the receiver refused, with its reason.

    An alert refused for what it is (a bridge named it invalid, or it was too large) is not sent
    again while its labels and annotations stay the same; fix the rule, or --clear after fixing
    the receiver. Refused credentials (401/403) are listed too but withhold nothing.
    """
    from tocsin.agent.deadletters import DeadLetters, file_name
    from tocsin.agent.render import render_dead_letters

    config = _config(config_path)
    # One file per receiver; the first receiver's (or a lone one's) is dead-letters.jsonl.
    subdirs = [push.subdir for push in config.receivers] or [""]
    for subdir in subdirs:
        store = DeadLetters(config.state_dir / file_name(subdir))
        if clear:
            click.echo(f"{store.path}: cleared {store.clear()} dead letter(s)")
            continue
        click.echo(render_dead_letters(store.path, store.letters(), as_json), nl=False)


@main.command()
@click.option("--for", "duration", required=True, help="How long, such as 30m (at most 4h).")
@click.option("--reason", required=True, help="Why, for the board, e.g. 'kernel update'.")
@click.option("--config", "config_path", type=PATH, help="Agent config naming the bridge (push).")
@click.option(
    "--only-at-shutdown",
    is_flag=True,
    help="Do nothing unless the system is shutting down (for the unit's ExecStop).",
)
def maintenance(
    duration: str, reason: str, config_path: Path | None, only_at_shutdown: bool
) -> None:
    """Ask the bridge for a maintenance window on this host (instance=HOST).

    New alerts from this host then page nobody until the window ends; any still firing then,
    and a heartbeat silence that lasts past it, page as usual, so a reboot that does not come
    back is caught.
    """
    from tocsin.agent.maintenance import announce
    from tocsin.common.durations import parse_duration

    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--for") from exc
    message = announce(_config(config_path), seconds, reason, only_at_shutdown)
    click.echo(message)


@main.group()
def rules() -> None:
    """Work with the threshold rules."""


@rules.command("export")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["prometheus"]),
    default="prometheus",
    show_default=True,
)
@click.option("--config", "config_path", type=PATH, help="Export this config's rules.")
def export(output_format: str, config_path: Path | None) -> None:
    """Write the rules as a Prometheus rule file on stdout.

    The config's host `labels:` are not copied: a fleet-wide rule file must not stamp one
    host's `env` or `instance` on every host's alerts; Prometheus adds target labels itself.
    """
    from tocsin.agent.export import export_prometheus

    config = _config(config_path)
    click.echo(export_prometheus(config.rules), nl=False)
