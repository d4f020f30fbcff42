"""The SLA report's aggregates, computed by the database over the incidents opened in a window.

Python keeps a few rows per group (priority × team × week): counts and sums per cell, which
add up into any grouping. For durations the window's incidents stream by once with their times
in epoch seconds and reports/durations.py keeps eight bytes per duration; the paused intervals
(paired here from incident.paused/resumed events) come with them, and the working hours of
priorities with a calendar. The window's incidents are copied once into a temporary table
(reports/tables.py) that every query reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    Connection,
    CursorResult,
    Select,
    Table,
    and_,
    case,
    func,
    insert,
    literal,
    or_,
    select,
    union_all,
)

from tocsin.bridge.policy.model import CLOCKS, Calendar
from tocsin.bridge.reports import tables
from tocsin.bridge.reports.trend import WEEK, week_start
from tocsin.bridge.store.portable import epoch, greatest, json_text, json_truthy, least
from tocsin.bridge.store.schema import events, incidents, sla_clocks
from tocsin.bridge.timers.calendar import day_intervals
from tocsin.bridge.timers.clocks import BREACHED, MET, RESPONSES, UNANSWERED

NO_TEAM = "(none)"
FAR = 1e12  # seconds from the epoch: past any stored time (an open pause ends there)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The events that end a cycle of each clock: an update clock starts afresh on every note.
CYCLE_ENDS = {
    "response": ("incident.acknowledged", "incident.resolved"),
    "update": ("incident.note_added", "incident.resolved", "incident.closed"),
    "resolution": ("incident.resolved",),
}
PAUSE_KINDS = ("incident.paused", "incident.resumed")
ID_RANGE = "ids"  # the window's lowest and highest incident id, in its table's info
STREAM_ROWS = 2000  # rows fetched per round trip where a window's rows stream
Cell = tuple[str, str, int]  # priority, team, week index


@dataclass(frozen=True)
class Window:
    """The incidents a report covers: opened in [since, until), optionally one team or priority."""

    since: datetime
    until: datetime
    team: str | None = None
    priority: str | None = None

    def weeks(self) -> list[datetime]:
        """Return the Monday 00:00 UTC of each week the window touches, oldest first."""
        starts, start = [], week_start(self.since)
        while start < self.until:
            starts.append(start)
            start += WEEK
        return starts


@contextmanager
def chosen(conn: Connection, window: Window) -> Iterator[Table]:
    """Yield the window's incidents with their group keys and times in epoch seconds.

    They are copied once into a temporary table (the connection's own): the report's dozen
    queries then read those rows, not the incidents' table again each time.
    """
    created = incidents.c.created_at
    starts = window.weeks()
    week: Any = (
        case(
            *((created < start, index) for index, start in enumerate(starts[1:])),
            else_=len(starts) - 1,
        )
        if len(starts) > 1
        else literal(0)
    )
    query = select(
        incidents.c.id,
        incidents.c.created_at,
        incidents.c.priority,
        func.coalesce(func.nullif(incidents.c.team, ""), NO_TEAM),
        week,
        epoch(created),
        epoch(incidents.c.acknowledged_at),
        epoch(incidents.c.resolved_at),
        incidents.c.acknowledged_by,
        incidents.c.assignee,
        incidents.c.major,
        incidents.c.satisfaction,
        incidents.c.satisfaction_by,
    ).where(created >= window.since, created < window.until)
    if window.team is not None:
        query = query.where(incidents.c.team == window.team)
    if window.priority is not None:
        query = query.where(incidents.c.priority == window.priority)
    table = tables.window_table()
    names = [c.name for c in table.c]
    with tables.temporary(
        conn, table, lambda: conn.execute(insert(table).from_select(names, query))
    ) as filled:
        filled.info[ID_RANGE] = tuple(
            conn.execute(select(func.min(filled.c.id), func.max(filled.c.id))).one()
        )
        yield filled


def of_window(incident_id: Any, inc: Table) -> tuple[Any, ...]:
    """Return the condition that a row's incident is one of the window's.

    Incidents are numbered as they open, so the window's ids lie between its lowest and highest
    (sql.chosen notes them): that range, given as values the planner sees, lets the database
    read the clocks or events of those incidents by index rather than scan every row of the
    history, and estimate how many there are (PostgreSQL otherwise scanned and sorted).
    """
    lowest, highest = inc.info.get(ID_RANGE, (None, None))
    if lowest is None:
        return (incident_id.in_(select(inc.c.id)),)
    return (incident_id.in_(select(inc.c.id)), incident_id.between(lowest, highest))


def timeline_of(inc: Table) -> tuple[Any, ...]:
    """Return the condition that an event belongs to the window's incidents.

    An incident's events come after it opened: the (kind, occurred_at) index then reads only
    the events since the window's first incident, not the whole history's.
    """
    first = select(func.min(inc.c.created_at)).scalar_subquery()
    return (*of_window(events.c.incident_id, inc), events.c.occurred_at >= first)


def _pauses(inc: Table) -> CTE:
    # A pause starts at a paused event not preceded by another paused one and ends at the next
    # resumed event; repeats of either kind change nothing, so only the first of a run counts.
    order = (events.c.occurred_at, events.c.id)
    timeline = (
        select(
            events.c.incident_id,
            events.c.kind,
            events.c.occurred_at,
            events.c.id,
            func.lag(events.c.kind)
            .over(partition_by=events.c.incident_id, order_by=order)
            .label("prev"),
        )
        .where(events.c.kind.in_(PAUSE_KINDS), *timeline_of(inc))
        .subquery()
    )
    runs = (
        select(timeline)
        .where(or_(timeline.c.prev.is_(None), timeline.c.prev != timeline.c.kind))
        .subquery()
    )
    paired = select(
        runs.c.incident_id,
        runs.c.kind,
        epoch(runs.c.occurred_at).label("ps"),
        func.lead(epoch(runs.c.occurred_at))
        .over(partition_by=runs.c.incident_id, order_by=(runs.c.occurred_at, runs.c.id))
        .label("pe"),
    ).subquery()
    return (
        select(paired.c.incident_id, paired.c.ps, func.coalesce(paired.c.pe, FAR).label("pe"))
        .where(paired.c.kind == "incident.paused")
        .cte("pz")
    )


def _paused(pz: CTE) -> CTE:
    # The paused part of each duration (clipped to it). Pauses are few: their incidents are
    # found by primary key, not by scanning the window.
    parts: list[Select[Any]] = []
    created = epoch(incidents.c.created_at)
    for what, stored in (("a", incidents.c.acknowledged_at), ("r", incidents.c.resolved_at)):
        low, high = greatest(created, pz.c.ps), least(epoch(stored), pz.c.pe)
        parts.append(
            select(
                pz.c.incident_id.label("id"),
                incidents.c.priority,
                literal(what).label("what"),
                low.label("x0"),
                high.label("x1"),
            )
            .join(incidents, incidents.c.id == pz.c.incident_id)
            .where(stored.is_not(None), high > low)
        )
    return union_all(*parts).cte("pseg")


@dataclass(frozen=True)
class Spans:
    """The working hours of the priorities that count business time, as epoch spans."""

    calendared: frozenset[str]
    rows: list[tuple[str, float, float]]


def spans_of(conn: Connection, inc: Table, calendars: Mapping[str, Calendar | None]) -> Spans:
    """Return the working hours each calendar priority's durations may count."""
    latest = greatest(func.coalesce(inc.c.a, inc.c.c), func.coalesce(inc.c.r, inc.c.c))
    rows = conn.execute(
        select(
            inc.c.priority, func.min(inc.c.c).label("first"), func.max(latest).label("last")
        ).group_by(inc.c.priority)
    )
    spans: list[tuple[str, float, float]] = []
    calendared = set()
    for priority, first, last in rows:
        calendar = calendars.get(priority)
        if calendar is None:
            continue
        calendared.add(priority)
        day = (EPOCH + timedelta(seconds=first)).astimezone(calendar.timezone).date()
        end = (EPOCH + timedelta(seconds=last)).astimezone(calendar.timezone).date()
        day, end = day - timedelta(days=1), end + timedelta(days=1)
        while day <= end:
            spans.extend(
                (priority, (s - EPOCH).total_seconds(), (e - EPOCH).total_seconds())
                for s, e in day_intervals(calendar, day)
            )
            day += timedelta(days=1)
    return Spans(frozenset(calendared), spans)


def window_rows(conn: Connection, inc: Table) -> CursorResult[Any]:
    """Return the window's incidents as reports/durations.py reads them, streamed.

    Close the result (use it in a with block): an open cursor keeps the window's table from
    being dropped.
    """
    query = select(
        inc.c.id,
        inc.c.priority,
        inc.c.team,
        inc.c.week,
        inc.c.acknowledged_by,
        inc.c.c,
        inc.c.a,
        inc.c.r,
    )
    return conn.execute(query.execution_options(yield_per=STREAM_ROWS))


def paused_parts(conn: Connection, inc: Table) -> list[Any]:
    """Return the paused part of each duration that had one: id, priority, what, x0, x1."""
    pseg = _paused(_pauses(inc))
    return list(conn.execute(select(pseg.c.id, pseg.c.priority, pseg.c.what, pseg.c.x0, pseg.c.x1)))


def cell_columns(inc: Table) -> tuple[Any, Any, Any]:
    """Return the columns that name a cell: priority, team and week index."""
    return inc.c.priority, inc.c.team, inc.c.week


def cells(conn: Connection, inc: Table) -> list[Any]:
    """Return per cell: opened, acknowledged, resolved, escalations, major and satisfaction."""
    level = json_text(events.c.data, "level")
    steps = func.sum(case((func.coalesce(level, "").not_in(("0", "0.0", "false")), 1), else_=0))
    majorish = func.max(
        case(
            (
                or_(
                    json_truthy(json_text(events.c.data, "major")),
                    level == "major",
                    json_text(events.c.data, "name") == "major",
                ),
                1,
            ),
            else_=0,
        )
    )
    esc = (
        select(events.c.incident_id, steps.label("steps"), majorish.label("majorish"))
        .where(events.c.kind == "incident.escalated", *timeline_of(inc))
        .group_by(events.c.incident_id)
        .subquery()
    )
    count_steps = func.coalesce(esc.c.steps, 0)
    major = or_(inc.c.major.is_(True), func.coalesce(esc.c.majorish, 0) == 1)
    return list(
        conn.execute(
            select(
                *cell_columns(inc),
                func.count().label("opened"),
                func.count(inc.c.a).label("acknowledged"),
                func.count(inc.c.r).label("resolved"),
                func.sum(count_steps).label("escalations"),
                func.sum(case((count_steps > 0, 1), else_=0)).label("escalated"),
                func.sum(case((major, 1), else_=0)).label("major"),
            )
            .select_from(inc.outerjoin(esc, esc.c.incident_id == inc.c.id))
            .group_by(*cell_columns(inc))
        )
    )


def scores(conn: Connection, inc: Table) -> list[Any]:
    """Return per cell and satisfaction score how many incidents have it, and how many the
    reporters gave themselves (the survey) rather than staff at closing."""
    own = func.sum(case((inc.c.satisfaction_by == "reporter", 1), else_=0)).label("own")
    return list(
        conn.execute(
            select(*cell_columns(inc), inc.c.satisfaction, func.count().label("n"), own)
            .where(inc.c.satisfaction.is_not(None))
            .group_by(*cell_columns(inc), inc.c.satisfaction)
        )
    )


def missed() -> Any:
    """Return the condition that a sla_clocks row missed its deadline: recorded, or stopped after it."""
    c = sla_clocks.c
    return or_(
        c.breached_at.is_not(None),
        and_(c.stopped_at.is_not(None), c.due_at.is_not(None), c.stopped_at > c.due_at),
    )


def past_breaches(inc: Table) -> Select[Any]:
    """Return breaches of earlier clock cycles: in the timeline, no longer in sla_clocks.

    A restarted clock (the update clock, on each note) overwrites its row, so a breach before
    the restart survives only as an incident.sla_breached event.
    """
    clock = json_text(events.c.data, "sla")
    current = (
        select(sla_clocks.c.incident_id)
        .where(
            sla_clocks.c.incident_id == events.c.incident_id,
            sla_clocks.c.clock == clock,
            sla_clocks.c.breached_at == events.c.occurred_at,
        )
        .exists()
    )
    return select(
        events.c.incident_id, clock.label("clock"), events.c.id, events.c.occurred_at, events.c.data
    ).where(
        events.c.kind == "incident.sla_breached",
        *timeline_of(inc),
        clock.in_(tuple(CYCLE_ENDS)),
        ~current,
    )


def clock_outcomes(conn: Connection, inc: Table) -> list[Any]:
    """Return per cell, clock and outcome how many clocks ended (or run) that way."""
    c = sla_clocks.c
    outcome = case(
        (and_(missed(), c.breach_exempt.is_(True)), "exempt"),
        (missed(), BREACHED),
        (c.stopped_at.is_(None), "running"),
        (
            and_(c.clock == "response", func.coalesce(c.stopped_by, "").not_in(RESPONSES)),
            UNANSWERED,
        ),
        else_=MET,
    )
    current = select(c.incident_id, c.clock, outcome.label("outcome")).where(
        *of_window(c.incident_id, inc)
    )
    past = past_breaches(inc).subquery()
    earlier = select(past.c.incident_id, past.c.clock, literal(BREACHED))
    every = union_all(current, earlier).subquery()
    return list(
        conn.execute(
            select(
                *cell_columns(inc),
                every.c.clock,
                every.c.outcome,
                func.count().label("n"),
            )
            .select_from(every.join(inc, inc.c.id == every.c.incident_id))
            .group_by(*cell_columns(inc), every.c.clock, every.c.outcome)
        )
    )


def breach_queries(inc: Table) -> tuple[Select[Any], Select[Any]]:
    """Return the queries of the window's missed clocks and of breaches of earlier cycles, with
    titles: a month of a long history holds tens of thousands, read as they stream."""
    current = (
        select(sla_clocks, incidents.c.title, incidents.c.priority, incidents.c.team)
        .join(incidents, incidents.c.id == sla_clocks.c.incident_id)
        .where(*of_window(sla_clocks.c.incident_id, inc), missed())
    )
    past = past_breaches(inc).subquery()
    later = events.alias("later")
    # Only a public note from the service is an update (incidents/events.public_update); a
    # note recorded before notes had the flag counts.
    private = and_(
        later.c.kind == "incident.note_added",
        or_(
            ~json_truthy(func.coalesce(json_text(later.c.data, "public"), "true")),
            json_truthy(json_text(later.c.data, "from_reporter")),
        ),
    )
    ends = and_(
        or_(*(and_(past.c.clock == n, later.c.kind.in_(k)) for n, k in CYCLE_ENDS.items())),
        ~private,
    )
    stopped = (
        select(func.min(later.c.occurred_at))
        .where(
            later.c.incident_id == past.c.incident_id,
            ends,
            or_(
                later.c.occurred_at > past.c.occurred_at,
                and_(later.c.occurred_at == past.c.occurred_at, later.c.id > past.c.id),
            ),
        )
        .scalar_subquery()
    )
    earlier = select(
        past,
        stopped.label("stopped_at"),
        incidents.c.title,
        incidents.c.priority,
        incidents.c.team,
    ).join(incidents, incidents.c.id == past.c.incident_id)
    return current, earlier


def unreached_rows(conn: Connection, inc: Table) -> list[Any]:
    """Return escalation events that name targets nobody was reached at, in timeline order."""
    return list(
        conn.execute(
            select(
                events.c.incident_id,
                events.c.occurred_at,
                events.c.data,
                incidents.c.title,
                incidents.c.priority,
                incidents.c.team,
            )
            .join(incidents, incidents.c.id == events.c.incident_id)
            .where(
                events.c.kind == "incident.escalated",
                *timeline_of(inc),
                json_truthy(json_text(events.c.data, "unreached")),
            )
            .order_by(events.c.incident_id, events.c.occurred_at, events.c.id)
        )
    )


def cell_of(row: Any) -> Cell:
    """Return the (priority, team, week) cell of a grouped row."""
    return (str(row.priority), str(row.team), int(row.week))


def clock_names(rows: Iterable[Any]) -> list[str]:
    """Return the report's clocks: the policy's three, then any other name a row holds."""
    names = list(CLOCKS)
    names.extend(sorted({str(r.clock) for r in rows} - set(CLOCKS)))
    return names
