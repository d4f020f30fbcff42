"""Durable timers: rows with a due time that some part of the bridge acts on when it comes.

Parts schedule timers inside their own transaction (a new incident's SLA warnings and breaches,
its escalation steps), cancel or move them as the incident changes, and register a handler per
kind with the scheduler (tocsin.bridge.timers.scheduler), which fires each timer exactly once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, false, insert, select, update

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.store.bulk import insert_rows
from tocsin.bridge.store.schema import timers

# A parked timer (its incident is paused) waits here until resumed; never due.
PARKED = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Timer:
    """A due timer as its handler sees it; `late_seconds` is set when it fired late."""

    id: int
    kind: str
    incident_id: int | None
    subject: str | None
    due_at: datetime
    payload: Mapping[str, Any]
    late_seconds: float | None = None

    def late_data(self) -> dict[str, Any]:
        """Return {"late_seconds": …} for the event of a late timer, else nothing."""
        return {} if self.late_seconds is None else {"late_seconds": round(self.late_seconds, 3)}


TimerHandler = Callable[[Connection, Timer, datetime], None]
ManyHandler = Callable[[Connection, Sequence[Timer], datetime], None]


@dataclass(frozen=True)
class Batched:
    """A timer handler that can also fire many due timers of its kind in one go.

    The scheduler calls `many` with timers of distinct incidents, due order kept, when several
    fall due together; it must leave the same rows as calling `one` on each in turn.
    """

    one: TimerHandler
    many: ManyHandler

    def __call__(self, conn: Connection, timer: Timer, now: datetime) -> None:
        self.one(conn, timer, now)


@dataclass(frozen=True)
class Prepared:
    """A timer handler whose slow reading happens before, not inside, the transaction firing it.

    The scheduler calls `prepare` on a read connection, outside any write transaction (a
    report that reads for seconds must not hold SQLite's write lock that long), then `fire` with
    its result in the fire transaction, and only if the timer is still pending there. Fired once
    still holds: the claim's lease keeps other replicas off the timer meanwhile; a process that
    dies in between wrote nothing, and the timer is prepared again when its lease ends.
    """

    prepare: Callable[[Connection, Timer, datetime], Any]
    fire: Callable[[Connection, Timer, Any, datetime], None]

    def __call__(self, conn: Connection, timer: Timer, now: datetime) -> None:
        self.fire(conn, timer, self.prepare(conn, timer, now), now)


# Built once: values travel as parameters, so SQLAlchemy reuses the compiled statement.
_INSERT_TIMER = insert(timers)


def schedule(
    conn: Connection,
    kind: str,
    due_at: datetime,
    *,
    now: datetime,
    incident_id: int | None = None,
    subject: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> int:
    """Insert a pending timer in the caller's transaction and return its id."""
    row = timer_row(
        kind, due_at, now=now, incident_id=incident_id, subject=subject, payload=payload
    )
    result = conn.execute(_INSERT_TIMER, row)
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def schedule_many(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert pending timers built by timer_row() in one statement (see tocsin.bridge.store.bulk)."""
    insert_rows(conn, timers, rows)


def timer_row(
    kind: str,
    due_at: datetime,
    *,
    now: datetime,
    incident_id: int | None = None,
    subject: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Return the column values of a pending timer, for schedule_many()."""
    return {
        "kind": kind,
        "incident_id": incident_id,
        "subject": subject,
        "due_at": as_utc(due_at),
        "payload": dict(payload or {}),
        "created_at": as_utc(now),
        "cancelled": False,
    }


def pending(
    conn: Connection,
    *,
    incident_id: int | None = None,
    kinds: Sequence[str] | None = None,
    subject: str | None = None,
) -> list[Timer]:
    """Return the pending (unfired, uncancelled) timers matching the filters, soonest first."""
    query = select(timers).where(timers.c.fired_at.is_(None), timers.c.cancelled == false())
    if incident_id is not None:
        query = query.where(timers.c.incident_id == incident_id)
    if kinds is not None:
        query = query.where(timers.c.kind.in_(list(kinds)))
    if subject is not None:
        query = query.where(timers.c.subject == subject)
    # Sorted here: ORDER BY due_at makes SQLite walk the pending index (every pending timer)
    # instead of the incident's few rows.
    return sorted((from_row(row) for row in conn.execute(query)), key=lambda t: (t.due_at, t.id))


def cancel(
    conn: Connection,
    *,
    incident_id: int | None = None,
    kinds: Sequence[str] | None = None,
    subject: str | None = None,
) -> int:
    """Cancel pending timers matching the filters; return how many."""
    query = update(timers).where(timers.c.fired_at.is_(None), timers.c.cancelled == false())
    if incident_id is not None:
        query = query.where(timers.c.incident_id == incident_id)
    if kinds is not None:
        query = query.where(timers.c.kind.in_(list(kinds)))
    if subject is not None:
        query = query.where(timers.c.subject == subject)
    return int(conn.execute(query.values(cancelled=True)).rowcount)


def move(conn: Connection, timer_id: int, due_at: datetime, payload: Mapping[str, Any]) -> None:
    """Give a pending timer a new due time and payload (park and unpark paused timers)."""
    conn.execute(
        update(timers)
        .where(timers.c.id == timer_id)
        .values(due_at=as_utc(due_at), payload=dict(payload), claimed_by=None, claimed_until=None)
    )


def from_row(row: Any, late: float | None = None) -> Timer:
    """Return the Timer of a stored row; `late` is how late it fires, if late."""
    return Timer(
        id=int(row.id),
        kind=row.kind,
        incident_id=None if row.incident_id is None else int(row.incident_id),
        subject=row.subject,
        due_at=as_utc(row.due_at),
        payload=dict(row.payload or {}),
        late_seconds=late,
    )


def pending_clause() -> Any:
    """Return the WHERE terms of a timer neither fired nor cancelled."""
    return (timers.c.fired_at.is_(None), timers.c.cancelled == false())
