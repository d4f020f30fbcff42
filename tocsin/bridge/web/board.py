"""The board's read model: open incidents with their next deadline, in the order to work them.

A clock on a business calendar counts only working hours, so its time left is business seconds
(what the incident JSON reports) and its due time is shown in the calendar's zone. The board
orders incidents of one priority by these seconds as they are: business seconds for calendar
clocks, wall seconds for 24x7 ones (a priority has one calendar, so within a priority they compare).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Connection, select

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import Calendar, Policy
from tocsin.bridge.sla.paging_hours import paging_resumes
from tocsin.bridge.store.schema import incidents, sla_clocks
from tocsin.bridge.timers import calendar as business

OPEN_STATUSES = ("triggered", "acknowledged")
STATUS_FILTERS = ("triggered", "acknowledged", "paused")
BOARD_LIMIT = 2000


@lru_cache(maxsize=8192)
def _left(calendar: Calendar | None, now: datetime, due: datetime) -> float:
    # Sorting, choosing the next deadline and rendering ask again for the same clock and instant.
    return business.elapsed(calendar, now, due).total_seconds()


@dataclass(frozen=True)
class Deadline:
    """A running (or paused) SLA clock: when it warns, when it is due, what is left if paused.

    With a calendar the clock counts business time: its time left is business seconds.
    """

    clock: str
    due_at: datetime | None
    warn_at: datetime | None
    remaining_seconds: float | None
    breached: bool
    calendar: Calendar | None = None

    def seconds_left(self, now: datetime) -> float | None:
        """Return the time left (business seconds on a calendar); a paused clock keeps its own."""
        if self.due_at is not None:
            return _left(self.calendar, now, self.due_at)
        return self.remaining_seconds

    def counting(self, now: datetime) -> bool:
        """Return whether the time left is going down now: running, and inside working hours."""
        return self.due_at is not None and business.is_business_time(self.calendar, now)

    def counting_until(self, now: datetime) -> datetime | None:
        """Return when the working hours counting now end (None outside them or without a calendar)."""
        if self.calendar is None or not self.counting(now):
            return None
        return next(business.intervals_from(self.calendar, now))[1]

    def due_local(self) -> datetime | None:
        """Return the due instant in the calendar's zone (UTC without a calendar)."""
        if self.due_at is None or self.calendar is None:
            return self.due_at
        return self.due_at.astimezone(self.calendar.timezone)

    def state(self, now: datetime) -> str:
        """Return ok, warning, breached or paused, the countdown's colour."""
        if self.breached or (self.due_at is not None and now >= self.due_at):
            return "breached"
        if self.due_at is None:
            return "paused"
        if self.warn_at is not None and now >= self.warn_at:
            return "warning"
        return "ok"


@dataclass(frozen=True)
class BoardRow:
    """One open incident as the board shows it."""

    id: int
    title: str
    priority: str
    status: str
    paused: bool
    host: str | None
    team: str | None
    assignee: str | None
    created_at: datetime
    deadline: Deadline | None
    paging_resumes: datetime | None = None  # set while its paging hours are over


@dataclass(frozen=True)
class BoardFilter:
    """The board's filters; None or empty means everything."""

    priority: str | None = None
    status: str | None = None
    team: str | None = None


def next_deadline(clocks: Iterable[Deadline], now: datetime) -> Deadline | None:
    """Return the clock that runs out first; paused clocks count by what they have left."""
    best: tuple[float, Deadline] | None = None
    for clock in clocks:
        left = clock.seconds_left(now)
        if left is None:
            continue
        if best is None or left < best[0]:
            best = (left, clock)
    return best[1] if best else None


def board_order(
    rows: Iterable[BoardRow], priorities: Sequence[str], now: datetime
) -> list[BoardRow]:
    """Order by priority as the policy lists them, then by time left, then oldest first.

    Time left is business seconds for calendar clocks, wall seconds otherwise (see the module).
    """
    rank = {key: index for index, key in enumerate(priorities)}

    def key(row: BoardRow) -> tuple[int, str, int, float, datetime]:
        left = row.deadline.seconds_left(now) if row.deadline else None
        return (
            rank.get(row.priority, len(rank)),
            row.priority,
            0 if left is not None else 1,
            left if left is not None else 0.0,
            row.created_at,
        )

    return sorted(rows, key=key)


def _clocks_by_incident(
    conn: Connection, ids: Sequence[int], calendars: Mapping[str, Calendar]
) -> Mapping[int, list[Deadline]]:
    found: dict[int, list[Deadline]] = {}
    if not ids:
        return found
    query = select(sla_clocks).where(
        sla_clocks.c.incident_id.in_(ids), sla_clocks.c.stopped_at.is_(None)
    )
    for row in conn.execute(query).mappings():
        found.setdefault(int(row["incident_id"]), []).append(
            Deadline(
                clock=row["clock"],
                due_at=as_utc(row["due_at"]) if row["due_at"] else None,
                warn_at=as_utc(row["warn_at"]) if row["warn_at"] else None,
                remaining_seconds=row["remaining_seconds"],
                breached=row["breached_at"] is not None,
                calendar=calendars.get(row["calendar"] or ""),
            )
        )
    return found


def load_board(
    conn: Connection,
    board_filter: BoardFilter,
    priorities: Sequence[str],
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
    policy: Policy | None = None,
) -> list[BoardRow]:
    """Read the open incidents that pass the filter, in board order.

    `calendars` (the policy's) make clocks on a business calendar count business time; a clock
    whose calendar is not given counts wall time, as the incident JSON does.
    """
    query = select(incidents).where(incidents.c.status.in_(OPEN_STATUSES))
    if board_filter.priority:
        query = query.where(incidents.c.priority == board_filter.priority)
    if board_filter.status == "paused":
        query = query.where(incidents.c.paused.is_(True))
    elif board_filter.status:
        query = query.where(incidents.c.status == board_filter.status)
    if board_filter.team:
        query = query.where(incidents.c.team == board_filter.team)
    # Bounded so a flood cannot stall the page; the most important come first within the bound.
    query = query.order_by(incidents.c.priority, incidents.c.created_at).limit(BOARD_LIMIT)
    found = list(conn.execute(query).mappings())
    clocks = _clocks_by_incident(conn, [int(row["id"]) for row in found], calendars or {})
    rows = [
        BoardRow(
            id=int(row["id"]),
            title=row["title"],
            priority=row["priority"],
            status=row["status"],
            paused=bool(row["paused"]),
            host=row["host"],
            team=row["team"],
            assignee=row["assignee"],
            created_at=as_utc(row["created_at"]),
            deadline=next_deadline(clocks.get(int(row["id"]), []), now),
            paging_resumes=paging_resumes(policy, row, now) if policy else None,
        )
        for row in found
    ]
    return board_order(rows, priorities, now)


def open_teams(conn: Connection) -> list[str]:
    """Return the teams that have open incidents, for the team filter."""
    query = (
        select(incidents.c.team)
        .where(incidents.c.status.in_(OPEN_STATUSES), incidents.c.team.is_not(None))
        .distinct()
    )
    return sorted(str(team) for team in conn.execute(query).scalars())
