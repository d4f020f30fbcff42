"""Server-side sessions: a random id in the cookie, its sha256 in a row that can expire or be revoked."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.store.schema import account_sessions

METHODS = ("password", "oidc", "token")


@dataclass(frozen=True)
class SessionRow:
    """A live session: its row id, person, how they signed in, when it started and ends."""

    id: int
    name: str
    method: str
    created_at: datetime
    expires_at: datetime
    address: str | None


def digest(raw: str) -> str:
    """Return the sha256 of a session id or token, the only form stored."""
    return hashlib.sha256(raw.encode()).hexdigest()


def _row(row: Any) -> SessionRow:
    return SessionRow(
        id=int(row.id),
        name=str(row.name),
        method=str(row.method),
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
        address=row.address,
    )


def start(
    conn: Connection,
    name: str,
    method: str,
    now: datetime,
    lifetime: timedelta,
    address: str | None = None,
) -> str:
    """Store a new session of `name` and return its id for the cookie (shown nowhere else)."""
    raw = secrets.token_urlsafe(32)
    conn.execute(
        insert(account_sessions).values(
            digest=digest(raw),
            name=name,
            method=method,
            created_at=now,
            expires_at=now + lifetime,
            address=(address or "")[:64] or None,
        )
    )
    return raw


def live(conn: Connection, raw: str, now: datetime) -> SessionRow | None:
    """Return the session a cookie's id names if it is neither expired nor revoked."""
    row = conn.execute(
        select(account_sessions).where(account_sessions.c.digest == digest(raw))
    ).first()
    if row is None or row.revoked_at is not None or as_utc(row.expires_at) <= now:
        return None
    return _row(row)


def active(conn: Connection, name: str, now: datetime) -> list[SessionRow]:
    """Return the live sessions of `name`, newest first."""
    rows = conn.execute(
        select(account_sessions)
        .where(
            and_(
                account_sessions.c.name == name,
                account_sessions.c.revoked_at.is_(None),
                account_sessions.c.expires_at > now,
            )
        )
        .order_by(account_sessions.c.id.desc())
    )
    return [_row(row) for row in rows]


def end(conn: Connection, raw: str, now: datetime) -> None:
    """Revoke the session a cookie's id names (signing out)."""
    conn.execute(
        update(account_sessions)
        .where(account_sessions.c.digest == digest(raw), account_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_all(conn: Connection, name: str, now: datetime) -> int:
    """Revoke every session of `name` (signing out everywhere); return how many were live."""
    result = conn.execute(
        update(account_sessions)
        .where(account_sessions.c.name == name, account_sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)
