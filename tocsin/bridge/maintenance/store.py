"""Stored maintenance windows: create, extend and end them, each change audited with its person."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, insert, or_, select, update

from tocsin.bridge.errors import Conflict, InvalidInput, NotFound
from tocsin.bridge.maintenance.weekly import columns, describe, weekly_of
from tocsin.bridge.maintenance.windows import Weekly, Window
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.matchers import parse_all
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.schema import maintenance_audit, maintenance_windows

MAX_WINDOW = timedelta(days=31)
SOURCES = ("api", "cli", "web", "agent")
# Built once: every batch that opens incidents reads the windows, and a statement built per
# call is looked up in SQLAlchemy's cache by a key computed per call.
_OPEN_OR_LATER = select(maintenance_windows).where(
    maintenance_windows.c.ends_at > bindparam("now", type_=maintenance_windows.c.ends_at.type),
    maintenance_windows.c.ended_at.is_(None),
)


def policy_windows(policy: Policy) -> list[Window]:
    """Return the policy's weekly windows."""
    return [
        Window(
            key=f"policy:{spec.name}",
            matchers=spec.matchers,
            reason=spec.reason,
            created_by="policy",
            weekly=Weekly(spec.days, spec.start, spec.end, spec.timezone),
        )
        for spec in policy.maintenance.values()
    ]


def stored_windows(conn: Connection, now: datetime) -> list[Window]:
    """Return the stored windows open at `now` or later (not ended, not over)."""
    return [stored_window(row) for row in conn.execute(_OPEN_OR_LATER, {"now": now})]


def windows(conn: Connection, policy: Policy, now: datetime) -> list[Window]:
    """Return every window that may be open at `now`: the policy's and the stored ones."""
    return policy_windows(policy) + stored_windows(conn, now)


def create(
    conn: Connection,
    *,
    matchers: Sequence[str],
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    actor: str | None,
    source: str,
    now: datetime,
) -> int:
    """Store a one-off window and audit it; refuse empty, endless or past windows."""
    _check_span(starts_at, ends_at, now)
    span = {"starts_at": as_utc(starts_at), "ends_at": as_utc(ends_at)}
    audited = {"ends_at": as_utc(ends_at).isoformat()}
    return _insert(conn, matchers, reason, actor, source, now, span, audited)


def create_weekly(
    conn: Connection,
    *,
    matchers: Sequence[str],
    weekly: Weekly,
    reason: str,
    actor: str | None,
    source: str,
    now: datetime,
) -> int:
    """Store a weekly window (read by read_weekly) and audit it."""
    audited = {"every": describe(weekly)}
    return _insert(conn, matchers, reason, actor, source, now, columns(weekly, now), audited)


def _insert(
    conn: Connection,
    matchers: Sequence[str],
    reason: str,
    actor: str | None,
    source: str,
    now: datetime,
    when: dict[str, Any],
    audited: dict[str, Any],
) -> int:
    parsed = parse_all(matchers)
    if not reason.strip():
        raise InvalidInput("give a reason, such as 'kernel update'", "reason")
    window_id = int(
        conn.execute(
            insert(maintenance_windows).values(
                matchers=[str(m) for m in parsed],
                reason=reason.strip()[:500],
                created_by=actor,
                source=source,
                created_at=now,
                **when,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
    )
    _audit(conn, str(window_id), "created", actor, now, audited)
    return window_id


def extend(
    conn: Connection, window_id: int, ends_at: datetime, actor: str | None, now: datetime
) -> None:
    """Move a one-off window's end (later or earlier, but not into the past)."""
    row = _open_row(conn, window_id, now)
    if row.days is not None:
        raise Conflict(f"maintenance window {window_id} is weekly: end it and create another")
    _check_span(as_utc(row.starts_at), ends_at, now)
    conn.execute(
        update(maintenance_windows)
        .where(maintenance_windows.c.id == window_id)
        .values(ends_at=as_utc(ends_at))
    )
    _audit(
        conn,
        str(window_id),
        "extended",
        actor,
        now,
        {"from": as_utc(row.ends_at).isoformat(), "to": as_utc(ends_at).isoformat()},
    )


def end(conn: Connection, window_id: int, actor: str | None, now: datetime) -> None:
    """End a window now; what it held back is released by the caller."""
    _open_row(conn, window_id, now)
    conn.execute(
        update(maintenance_windows)
        .where(maintenance_windows.c.id == window_id)
        .values(ended_at=now, ended_by=actor)
    )
    _audit(conn, str(window_id), "ended", actor, now, {})


def get(conn: Connection, window_id: int) -> Any:
    """Return one stored window's row, or NotFound."""
    row = conn.execute(
        select(maintenance_windows).where(maintenance_windows.c.id == window_id)
    ).first()
    if row is None:
        raise NotFound(f"no maintenance window {window_id}")
    return row


def listed(conn: Connection, now: datetime, *, past: timedelta = timedelta(days=7)) -> list[Any]:
    """Return one-off windows open, upcoming or ended within `past`, newest first."""
    since = now - past
    return list(
        conn.execute(
            select(maintenance_windows)
            .where(
                maintenance_windows.c.days.is_(None),
                or_(maintenance_windows.c.ends_at > since, maintenance_windows.c.ended_at > since),
            )
            .order_by(maintenance_windows.c.starts_at.desc(), maintenance_windows.c.id.desc())
        )
    )


def weekly_rows(conn: Connection, now: datetime) -> list[Any]:
    """Return the stored weekly windows not ended nor past their last date, oldest first."""
    return list(
        conn.execute(
            select(maintenance_windows)
            .where(
                maintenance_windows.c.days.is_not(None),
                maintenance_windows.c.ends_at > now,
                maintenance_windows.c.ended_at.is_(None),
            )
            .order_by(maintenance_windows.c.id)
        )
    )


def audit_trail(conn: Connection, key: str) -> list[Any]:
    """Return a window's changes in order."""
    return list(
        conn.execute(
            select(maintenance_audit)
            .where(maintenance_audit.c.window == key)
            .order_by(maintenance_audit.c.id)
        )
    )


def stored_window(row: Any) -> Window:
    """Return a stored row as a Window: weekly when it has days, else one-off."""
    weekly = weekly_of(row)
    return Window(
        key=str(row.id),
        matchers=parse_all(row.matchers),
        reason=row.reason,
        created_by=row.created_by,
        starts_at=None if weekly else as_utc(row.starts_at),
        ends_at=None if weekly else as_utc(row.ends_at),
        weekly=weekly,
    )


def _open_row(conn: Connection, window_id: int, now: datetime) -> Any:
    row = get(conn, window_id)
    if row.ended_at is not None or as_utc(row.ends_at) <= now:
        raise Conflict(f"maintenance window {window_id} is already over")
    return row


def _check_span(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if ends_at <= now:
        raise InvalidInput("the window must end in the future", "ends_at")
    if ends_at <= starts_at:
        raise InvalidInput("the window must end after it starts", "ends_at")
    if ends_at - starts_at > MAX_WINDOW:
        raise InvalidInput(f"a window lasts at most {MAX_WINDOW.days} days", "ends_at")


def _audit(
    conn: Connection, key: str, action: str, actor: str | None, now: datetime, data: dict[str, Any]
) -> None:
    conn.execute(
        insert(maintenance_audit).values(window=key, action=action, actor=actor, at=now, data=data)
    )
