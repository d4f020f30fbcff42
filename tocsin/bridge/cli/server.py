"""`serve`, `migrate` and `check-config`: run the bridge and look after its database.

Alembic is imported only by the commands that migrate: it is most of every command's start-up.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from tocsin.bridge.mailin.rules import describe, require_valid
from tocsin.bridge.notify.mail_templates import MailTemplates
from tocsin.bridge.paging.audit import unreachable
from tocsin.bridge.platform.bootstrap import ensure_secrets
from tocsin.bridge.platform.config import BridgeConfig, load_config, parse_config
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.server.systemd import notify_systemd
from tocsin.bridge.store.db import Store
from tocsin.common.journal import configure_logging

if TYPE_CHECKING:
    from tocsin.bridge.server.delivery import DeliveryLink

log = logging.getLogger("tocsin.bridge")
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),  # a directory is then a config fault (78), not a usage error
    default=None,
    help="Bridge config YAML; without it: SQLite ./tocsin.db, bundled policy, 127.0.0.1:8080.",
)
database_option = click.option(
    "--database-url",
    default=None,
    help="Override database_url (sqlite:///… or postgresql+psycopg://…).",
)


def _load(
    config_path: Path | None,
    database_url: str | None,
    listen: str | None = None,
    workers: int | None = None,
) -> BridgeConfig:
    config = load_config(config_path)
    changes = {
        key: value
        for key, value in (("database_url", database_url), ("listen", listen), ("workers", workers))
        if value is not None
    }
    if not changes:
        return config
    # Overrides pass the same checks a file gets.
    checked = parse_config(changes, "command line")
    if "listen" in changes:
        changes["listen_at"] = checked.listen_at
    return dataclasses.replace(config, **{key: getattr(checked, key) for key in changes})


@click.command()
@config_option
@database_option
@click.option("--listen", default=None, help="Override listen, HOST:PORT.")
@click.option(
    "--workers",
    type=int,
    default=None,
    help="Override workers: processes serving the listener (README: Worker processes).",
)
@click.option("--no-migrate", is_flag=True, help="Do not apply pending migrations at start.")
def serve(
    config_path: Path | None,
    database_url: str | None,
    listen: str | None,
    workers: int | None,
    no_migrate: bool,
) -> None:
    """Serve the API, web board and background workers until stopped."""
    from tocsin.bridge.platform import memory
    from tocsin.bridge.server.listener import bind_listener

    memory.limit_arenas()  # before any thread starts
    config = _load(config_path, database_url, listen, workers)
    policy = load_policy(config.policy)  # a broken policy stops serve before it writes secrets
    configure_logging(
        config.log_level, sys.stderr, os.environ, "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    _check_mail(config, policy)
    for warning in unreachable(policy, smtp=config.smtp is not None):
        log.warning("%s: %s", policy.source, warning)
    # Bound before secrets, migrations and workers: a bad address changes nothing.
    sockets = bind_listener(config.host, config.port, config.listen_at)
    try:
        config = ensure_secrets(config)
        own_process = config.notify.deliver_from == "process"  # delivery in a process of its own
        if config.workers == 1 and not own_process:
            _serve(config, policy, sockets, migrate=not no_migrate)
            return
        from tocsin.bridge.server.delivery import DeliveryLink, deliver
        from tocsin.bridge.server.systemd import healthz_probe
        from tocsin.bridge.server.workers import run_workers
        from tocsin.common.sdnotify import Notifier

        if not no_migrate:
            _upgrade(config)  # once, before the children start
        port = int(sockets[0].getsockname()[1])
        link = DeliveryLink() if own_process else None
        try:
            code = run_workers(
                config.workers,
                lambda index: _serve(
                    config, policy, sockets, migrate=False, worker=index, link=link
                ),
                ready=healthz_probe(config.host, port, timeout=2.0),
                notifier=Notifier(os.environ),
                deliver=None if link is None else lambda: deliver(config, policy, link),
            )
        finally:
            if link is not None:
                link.close()
        if code:
            sys.exit(code)
    finally:
        for sock in sockets:
            sock.close()


def _serve(
    config: BridgeConfig,
    policy: Policy,
    sockets: list[socket.socket],
    *,
    migrate: bool,
    worker: int | None = None,
    link: DeliveryLink | None = None,
) -> None:
    """Serve on bound sockets; worker processes past the first run no background jobs.

    With a `link`, a delivery process of its own delivers: this one wakes it and shows its
    metrics.
    """
    import uvicorn

    from tocsin.bridge import migrations
    from tocsin.bridge.notify.install import serving_jobs
    from tocsin.bridge.platform import memory
    from tocsin.bridge.runtime import build_runtime
    from tocsin.bridge.server.app import create_app
    from tocsin.bridge.server.guard import Guard, connection_budget, guarded_protocol
    from tocsin.bridge.server.listener import ListeningServer, netloc
    from tocsin.bridge.timers.periodic import Periodic

    runtime = build_runtime(config, policy=policy)
    if worker is not None:
        runtime.metrics.worker = str(worker + 1)
    if worker is not None:
        # The first worker process runs timers, delivery, sweeps…; the others may deliver too.
        runtime.workers[:] = serving_jobs(runtime.workers, config.notify, worker)
    if link is not None:
        link.serve(runtime.store, runtime.metrics)
    runtime.workers.append(Periodic("memory-trim", memory.trim, interval=memory.TRIM_SECONDS))
    if migrate:
        migrations.upgrade(runtime.store)
    port = int(sockets[0].getsockname()[1])
    limits = config.limits
    guard = Guard(
        runtime.metrics,
        max_connections=connection_budget(limits.max_connections),
        read_timeout=limits.read_timeout,
        retry_after=limits.retry_after,
    )
    process = "" if worker is None else f", worker process {worker + 1}/{config.workers}"
    server = ListeningServer(
        uvicorn.Config(
            create_app(runtime),
            host=config.host,
            port=port,
            log_level=config.log_level,
            access_log=False,
            timeout_graceful_shutdown=10,
            # uvicorn's records go to the root handler, with journald priorities under systemd.
            log_config=None,
            timeout_keep_alive=max(1, round(limits.keep_alive)),
            # Connections, header deadlines and 503s past the bound: the guard, not uvicorn's
            # limit_concurrency (which refuses /healthz too); a body's deadline: BodyLimit.
            http=guarded_protocol(guard),
        ),
        f"tocsin-bridge listening on http://{netloc(config.host, port)} "
        f"({runtime.store.dialect}{process})",
    )
    if worker is None:
        notify_systemd(server)  # with worker processes the supervisor speaks to systemd
    memory.settle()
    server.run(sockets=sockets)


def _upgrade(config: BridgeConfig) -> None:
    from tocsin.bridge import migrations
    from tocsin.bridge.runtime import open_store

    store = open_store(config)
    try:
        migrations.upgrade(store)
    finally:
        store.dispose()


@click.command()
@config_option
@database_option
def migrate(config_path: Path | None, database_url: str | None) -> None:
    """Apply pending database migrations, then exit."""
    from tocsin.bridge import migrations
    from tocsin.bridge.runtime import open_store

    config = _load(config_path, database_url)
    store = open_store(config)
    try:
        before = _revision(store)
        migrations.upgrade(store)
    finally:
        store.dispose()
    click.echo(f"database at revision {migrations.head()} (was {before or 'empty'})")


@click.group()
def db() -> None:
    """Look at the bridge's database."""


@db.command("stats")
@config_option
@database_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def db_stats(config_path: Path | None, database_url: str | None, as_json: bool) -> None:
    """Print rows and size per table (indexes included), largest first."""
    import json

    from tocsin.bridge.store.stats import database_stats, human_bytes

    config = _load(config_path, database_url)
    store = Store(config.database_url, busy_timeout=config.limits.busy_timeout)
    try:
        stats = database_stats(store)
    finally:
        store.dispose()
    if as_json:
        tables = [dataclasses.asdict(table) for table in stats.tables]
        click.echo(json.dumps({"tables": tables, **dict(stats.notes)}, indent=2))
        return
    click.echo(f"database {_safe_url(config.database_url)} ({store.dialect})")
    click.echo(f"{'table':<20}{'rows':>12}{'size':>12}")
    for table in stats.tables:
        click.echo(f"{table.name:<20}{table.rows:>12,}{human_bytes(table.size_bytes):>12}")
    click.echo(
        f"{'total':<20}{sum(t.rows for t in stats.tables):>12,}{human_bytes(stats.size_bytes):>12}"
    )
    for name, value in stats.notes:
        click.echo(f"{name}: {value}")


@click.command("check-config")
@click.argument("config_path", required=False, type=click.Path(path_type=Path))
def check_config(config_path: Path | None) -> None:
    """Validate a config file and the policy it names; print a summary, exit 78 if wrong."""
    config = load_config(config_path)
    policy = load_policy(config.policy)
    roles = sorted({token.role for token in config.tokens})
    click.echo(f"config {config.source}: ok")
    click.echo(f"  listen {config.listen}, database {_safe_url(config.database_url)}")
    click.echo(
        f"  policy {policy.source}: {len(policy.priorities)} priorities, {len(policy.routes)} routes"
    )
    click.echo(
        f"  tokens: {len(config.tokens)} ({', '.join(roles)})"
        if config.tokens
        else f"  tokens: none; serve generates them in {config.state_dir / 'tokens.yml'}"
    )
    _check_mail(config, policy)
    for warning in unreachable(policy, smtp=config.smtp is not None):
        click.echo(f"warning: {policy.source}: {warning}", err=True)


def _revision(store: Store) -> str | None:
    from tocsin.bridge import migrations

    with store.connect() as conn:
        return migrations.current(conn)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _check_mail(config: BridgeConfig, policy: Policy) -> None:
    """Check and describe the mail gateway and the reporter's mails (serve and check-config)."""
    if config.mailin is not None:
        require_valid(config.mailin, policy)
        click.echo(f"  mailin: {describe(config.mailin)}")
    mail = config.reporter_mail
    if mail.enabled:
        MailTemplates(mail.templates).check()  # a broken template names its file, exit 78
        click.echo(
            f"  reporter mail: templates {mail.templates or 'bundled'}, language {mail.language}"
        )
        if config.smtp is None and mail.configured:
            click.echo(f"warning: {config.source}: reporter_mail is on but there is no 'smtp:'; "
                       "mails to reporters will fail and be recorded on their incidents",
                       err=True)  # fmt: skip
