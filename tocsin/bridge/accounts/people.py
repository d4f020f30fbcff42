"""Who may sign in: the policy's people and those an admin added, with the role each holds.

A stored row overrides the policy where it says something (a role an admin set, disabled); the
policy's `role:` comes next (`manager: true` means manager), then responder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from tocsin.bridge.accounts.roles import DEFAULT_ROLE, ROLES
from tocsin.bridge.errors import InvalidInput, NotFound
from tocsin.bridge.policy.model import Person, Policy
from tocsin.bridge.store.schema import accounts

NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")


@dataclass(frozen=True)
class Account:
    """A person who may sign in: name, full name, role, whether a password is set or it is off."""

    name: str
    full_name: str
    role: str
    in_policy: bool
    has_password: bool = False
    disabled: bool = False


def policy_role(person: Person) -> str:
    """Return the role the policy gives a person."""
    if person.role is not None:
        return person.role
    return "manager" if person.manager else DEFAULT_ROLE


def account_of(row: Any | None, person: Person | None) -> Account | None:
    """Combine a stored row and a policy person into the account, None when neither exists."""
    if row is None and person is None:
        return None
    if row is not None and row.role is not None:
        role = str(row.role)
    else:
        role = policy_role(person) if person is not None else DEFAULT_ROLE
    name = row.name if row is not None else person.name  # type: ignore[union-attr]
    full_name = (person.full_name if person is not None else None) or (
        row.full_name if row is not None and row.full_name else name
    )
    return Account(
        name=name,
        full_name=full_name,
        role=role,
        in_policy=person is not None,
        has_password=row is not None and row.password_hash is not None,
        disabled=row is not None and bool(row.disabled),
    )


def find(conn: Connection, policy: Policy, name: str) -> Account | None:
    """Return the account called `name`, from the store and the policy."""
    row = conn.execute(select(accounts).where(accounts.c.name == name)).first()
    return account_of(row, policy.people.get(name))


def everyone(conn: Connection, policy: Policy) -> list[Account]:
    """Return every account, the policy's people and the added ones, by name."""
    rows = {row.name: row for row in conn.execute(select(accounts))}
    names = sorted(set(rows) | set(policy.people))
    found = (account_of(rows.get(name), policy.people.get(name)) for name in names)
    return [account for account in found if account is not None]


def password_hash(conn: Connection, name: str) -> str | None:
    """Return the stored password hash of `name`, None when none is set."""
    value = conn.execute(select(accounts.c.password_hash).where(accounts.c.name == name)).scalar()
    return None if value is None else str(value)


def check_name(name: str) -> str:
    """Return a valid account name or refuse it (field: name)."""
    if not 1 <= len(name) <= 100 or not set(name) <= NAME_CHARS:
        raise InvalidInput(
            f"name {name[:100]!r} must be 1-100 letters, digits or . _ - @", field="name"
        )
    return name


def check_role(role: str) -> str:
    """Return a valid role or refuse it (field: role)."""
    if role not in ROLES:
        raise InvalidInput(f"role {role[:40]!r} is not one of {', '.join(ROLES)}", field="role")
    return role


def ensure_row(conn: Connection, policy: Policy, name: str, now: datetime) -> None:
    """Make sure a policy person has a row to hold a password or role; refuse unknown people."""
    if conn.execute(select(accounts.c.name).where(accounts.c.name == name)).first() is not None:
        return
    if name not in policy.people:
        raise NotFound(f"no person {name!r}: add them first, or define them in the policy")
    conn.execute(insert(accounts).values(name=name, disabled=False, created_at=now, updated_at=now))


def add(
    conn: Connection, policy: Policy, name: str, full_name: str | None, role: str, now: datetime
) -> None:
    """Add a person who is not in the policy (or give a policy person a stored role)."""
    check_name(name)
    check_role(role)
    exists = conn.execute(select(accounts.c.name).where(accounts.c.name == name)).first()
    if exists is not None:
        conn.execute(
            update(accounts).where(accounts.c.name == name).values(role=role, updated_at=now)
        )
        return
    conn.execute(
        insert(accounts).values(
            name=name,
            full_name=full_name or None,
            role=role,
            disabled=False,
            created_at=now,
            updated_at=now,
        )
    )


def set_fields(conn: Connection, policy: Policy, name: str, now: datetime, **values: Any) -> None:
    """Store a password hash, role or disabled flag for a known person."""
    ensure_row(conn, policy, name, now)
    conn.execute(update(accounts).where(accounts.c.name == name).values(updated_at=now, **values))
