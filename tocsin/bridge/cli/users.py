"""`tocsin-bridge users`: people who sign in to the board, run on the bridge's host against its database.

Whoever can run these can read the bridge's config, so they act as an admin.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import click

from tocsin.bridge.accounts.roles import ROLES
from tocsin.bridge.accounts.service import Accounts, sign_in_counter
from tocsin.bridge.cli.server import _load, config_option, database_option
from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.platform.bootstrap import ensure_secrets
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.store.db import Store
from tocsin.common.durations import parse_duration


@contextmanager
def opened(config_path: Path | None, database_url: str | None) -> Iterator[Accounts]:
    """Yield the accounts of the configured database and policy, closing the store after."""
    config = ensure_secrets(_load(config_path, database_url))
    policy = load_policy(config.policy)
    store = Store(config.database_url, busy_timeout=config.limits.busy_timeout)
    try:
        counter = sign_in_counter(Metrics().registry)
        yield Accounts(store, lambda: policy, utcnow, counter, secret=config.secret_key)
    finally:
        store.dispose()


def read_password(from_stdin: bool) -> str:
    """Return a new password: one line of standard input, or typed twice at a prompt."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise InvalidInput("no password on standard input", field="password")
        return password
    return str(click.prompt("New password", hide_input=True, confirmation_prompt=True))


@click.group()
def users() -> None:
    """People who sign in to the board: passwords, invites, roles, sessions."""


@users.command("list")
@config_option
@database_option
def list_users(config_path: Path | None, database_url: str | None) -> None:
    """List everyone who may sign in, with their role and whether a password is set."""
    with opened(config_path, database_url) as accounts:
        for account in accounts.everyone():
            source = "policy" if account.in_policy else "added"
            password = "password" if account.has_password else "no password"
            state = " disabled" if account.disabled else ""
            click.echo(f"{account.name}\t{account.role}\t{source}\t{password}{state}")


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="responder", show_default=True)
@click.option("--full-name", default=None, help="How the board shows them.")
@config_option
@database_option
def add(
    name: str, role: str, full_name: str | None, config_path: Path | None, database_url: str | None
) -> None:
    """Add a person who is not in the policy, or store a role for one who is."""
    with opened(config_path, database_url) as accounts:
        account = accounts.add(name, full_name, role)
    click.echo(f"{account.name}: {account.role}")


@users.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@config_option
@database_option
def set_password(
    name: str, password_stdin: bool, config_path: Path | None, database_url: str | None
) -> None:
    """Set a person's password (Argon2-hashed) and sign out their sessions."""
    password = read_password(password_stdin)
    with opened(config_path, database_url) as accounts:
        accounts.set_password(name, password)
    click.echo(f"password of {name} set; their sessions were signed out")


@users.command("invite")
@click.argument("name")
@click.option("--ttl", default="72h", show_default=True, help="How long the link works.")
@config_option
@database_option
def invite(name: str, ttl: str, config_path: Path | None, database_url: str | None) -> None:
    """Print a signed, one-time link with which NAME sets their own password."""
    try:
        lifetime = timedelta(seconds=parse_duration(ttl))
    except ValueError as exc:
        raise InvalidInput(f"--ttl {ttl!r} is not a duration such as 72h", field="ttl") from exc
    config = _load(config_path, database_url)
    with opened(config_path, database_url) as accounts:
        code = accounts.invite(name, "cli", lifetime)
    click.echo(f"{config.base_url}/invite/{code}")


@users.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@config_option
@database_option
def set_role(name: str, role: str, config_path: Path | None, database_url: str | None) -> None:
    """Give NAME a role, overriding the policy's."""
    with opened(config_path, database_url) as accounts:
        accounts.set_role(name, role)
    click.echo(f"{name}: {role}")


@users.command("disable")
@click.argument("name")
@config_option
@database_option
def disable(name: str, config_path: Path | None, database_url: str | None) -> None:
    """Stop NAME signing in (password, SSO, API tokens) and end their sessions."""
    with opened(config_path, database_url) as accounts:
        accounts.set_disabled(name, True)
    click.echo(f"{name}: disabled, signed out")


@users.command("enable")
@click.argument("name")
@config_option
@database_option
def enable(name: str, config_path: Path | None, database_url: str | None) -> None:
    """Let a disabled NAME sign in again."""
    with opened(config_path, database_url) as accounts:
        accounts.set_disabled(name, False)
    click.echo(f"{name}: enabled")


@users.command("sign-out")
@click.argument("name")
@config_option
@database_option
def sign_out(name: str, config_path: Path | None, database_url: str | None) -> None:
    """Sign NAME out of every session."""
    with opened(config_path, database_url) as accounts:
        count = accounts.sign_out_everywhere(name)
    click.echo(f"{name}: {count} session(s) signed out")


@users.group("token")
def token() -> None:
    """People's own API tokens for the CLI and scripts (shown once, stored as digests)."""


@token.command("create")
@click.argument("name")
@click.option("--label", required=True, help="Where the token is used, e.g. 'laptop'.")
@config_option
@database_option
def token_create(name: str, label: str, config_path: Path | None, database_url: str | None) -> None:
    """Create an API token acting as NAME and print it: it is not shown again."""
    with opened(config_path, database_url) as accounts:
        raw, created = accounts.create_token(name, label, "cli")
    click.echo(
        f"token {created.id} for {name} ({label}); keep it, it is not shown again:", err=True
    )
    click.echo(raw)


@token.command("list")
@click.argument("name", required=False)
@config_option
@database_option
def token_list(name: str | None, config_path: Path | None, database_url: str | None) -> None:
    """List API tokens (of NAME, else everyone's): id, person, label, created, last used, state."""
    with opened(config_path, database_url) as accounts:
        tokens = accounts.tokens(name)
    for item in tokens:
        shown = item.as_json()
        state = f"revoked {shown['revoked_at']}" if item.revoked_at else "live"
        click.echo(
            f"{item.id}\t{item.name}\t{item.label}\t{shown['created_at']}\t"
            f"{shown['last_used_at'] or 'never used'}\t{state}"
        )


@token.command("revoke")
@click.argument("token_id", type=int)
@config_option
@database_option
def token_revoke(token_id: int, config_path: Path | None, database_url: str | None) -> None:
    """Revoke an API token by its id; it stops working at once."""
    with opened(config_path, database_url) as accounts:
        revoked = accounts.revoke_token(token_id)
    click.echo(f"token {revoked.id} of {revoked.name} ({revoked.label}) revoked")
