"""The board's read model: open incidents with their next deadline, in the order to work them.

A clock on a business calendar counts only working hours, so its time left is business seconds
(what the incident JSON reports) and its due time is shown in the calendar's zone. The database
orders the board: by priority as the policy lists them, then by the instant the next deadline
falls due (a paused clock: the instant it would, resumed now), then oldest first. Within one
calendar, an earlier due instant is also fewer business seconds left. It sends one page of
BOARD_PAGE rows; the next page starts after the last row's key (keyset), so a flood of open
incidents costs the database a sort, and the page no more than its rows. The board's version
(the newest event and incident ids) lets a refresh that finds nothing new answer 304.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, case, func, literal, select, tuple_

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import Calendar, Policy
from tocsin.bridge.sla.paging_hours import paging_resumes
from tocsin.bridge.store.portable import epoch
from tocsin.bridge.store.schema import events, incidents, sla_clocks
from tocsin.bridge.timers import calendar as business

OPEN_STATUSES = ("triggered", "acknowledged")
STATUS_FILTERS = ("triggered", "acknowledged", "paused")
BOARD_PAGE = 50  # rows a board page shows; "next" continues after the last one
# A board nothing happened to is still sent afresh this often: paging hours and the year's
# holiday data change what it says without an event.
VERSION_SECONDS = 300
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


@dataclass(frozen=True)
class BoardPage:
    """One page of the board: its rows, how many incidents pass the filter, where the next starts."""

    rows: list[BoardRow]
    total: int
    next_after: int | None  # the id of this page's last row when more follow


def _keys(priorities: Sequence[str], now: datetime) -> tuple[Any, list[Any]]:
    """Return the incidents joined with their next due instant, and the board's sort key."""
    seconds = (as_utc(now) - EPOCH).total_seconds()
    running = sla_clocks.c.due_at.is_not(None)
    due = (
        select(
            sla_clocks.c.incident_id,
            func.min(
                case(
                    (running, epoch(sla_clocks.c.due_at)),
                    else_=literal(seconds) + sla_clocks.c.remaining_seconds,
                )
            ).label("due"),
        )
        .where(
            # The open incidents' clocks, by primary key: not every clock of the history.
            sla_clocks.c.incident_id.in_(
                select(incidents.c.id).where(incidents.c.status.in_(OPEN_STATUSES))
            ),
            sla_clocks.c.stopped_at.is_(None),
            running | sla_clocks.c.remaining_seconds.is_not(None),
        )
        .group_by(sla_clocks.c.incident_id)
        .subquery()
    )
    rank = case(
        *((incidents.c.priority == key, index) for index, key in enumerate(priorities)),
        else_=len(priorities),
    )
    key = [
        rank,
        incidents.c.priority,
        case((due.c.due.is_(None), 1), else_=0),
        func.coalesce(due.c.due, 0.0),
        incidents.c.created_at,
        incidents.c.id,
    ]
    return incidents.outerjoin(due, due.c.incident_id == incidents.c.id), key


def _filtered(query: Any, board_filter: BoardFilter) -> Any:
    query = query.where(incidents.c.status.in_(OPEN_STATUSES))
    if board_filter.priority:
        query = query.where(incidents.c.priority == board_filter.priority)
    if board_filter.status == "paused":
        query = query.where(incidents.c.paused.is_(True))
    elif board_filter.status:
        query = query.where(incidents.c.status == board_filter.status)
    if board_filter.team:
        query = query.where(incidents.c.team == board_filter.team)
    return query


def load_board(
    conn: Connection,
    board_filter: BoardFilter,
    priorities: Sequence[str],
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
    policy: Policy | None = None,
    after: int | None = None,
) -> BoardPage:
    """Read one page of the open incidents that pass the filter, in board order.

    `after` is the id of the previous page's last row. `calendars` (the policy's) make clocks on
    a business calendar count business time; a clock whose calendar is not given counts wall
    time, as the incident JSON does.
    """
    joined, key = _keys(priorities, now)
    total = conn.execute(
        _filtered(select(func.count()).select_from(incidents), board_filter)
    ).scalar_one()
    query = _filtered(select(incidents).select_from(joined), board_filter)
    if after is not None:
        start = conn.execute(
            select(*key).select_from(joined).where(incidents.c.id == after)
        ).first()
        if start is not None:
            query = query.where(tuple_(*key) > tuple_(*(literal(v) for v in start)))
    found = list(conn.execute(query.order_by(*key).limit(BOARD_PAGE + 1)).mappings())
    more = len(found) > BOARD_PAGE
    found = found[:BOARD_PAGE]
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
    return BoardPage(rows, int(total), rows[-1].id if more and rows else None)


def board_version(conn: Connection, now: datetime) -> str:
    """Return what changes whenever the board would: the newest event and incident, the time."""
    newest = conn.execute(
        select(select(func.max(events.c.id)).scalar_subquery(), func.max(incidents.c.id))
    ).one()
    slot = int((as_utc(now) - EPOCH).total_seconds() // VERSION_SECONDS)
    return f"{newest[0] or 0}-{newest[1] or 0}-{slot}"


def open_teams(conn: Connection) -> list[str]:
    """Return the teams that have open incidents, for the team filter."""
    query = (
        select(incidents.c.team)
        .where(incidents.c.status.in_(OPEN_STATUSES), incidents.c.team.is_not(None))
        .distinct()
    )
    return sorted(str(team) for team in conn.execute(query).scalars())
