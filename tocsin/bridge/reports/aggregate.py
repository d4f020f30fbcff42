"""The SLA report's aggregates, computed by the database over the incidents opened in a window.

Python keeps a few rows per group (priority × team × week), never one per incident: counts
and sums per cell, which add up into any grouping; durations stream by once, shortest first,
and only the values at the ranks the median, 90th percentile and maximum need are kept. Active time subtracts paused intervals
(paired from incident.paused/resumed events) and counts business time for priorities with a
calendar: such a priority has spans of working hours, and its durations are the overlap of their
intervals with them (a 24x7 priority's are plain differences). Memory therefore does not grow
with the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CTE,
    BigInteger,
    Boolean,
    Column,
    Connection,
    CursorResult,
    Float,
    FromClause,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    column,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
    values,
)

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import CLOCKS, Calendar
from tocsin.bridge.reports.trend import WEEK, week_start
from tocsin.bridge.store.portable import epoch, greatest, json_text, json_truthy, least
from tocsin.bridge.store.schema import UtcTime, events, incidents, sla_clocks
from tocsin.bridge.timers.calendar import day_intervals
from tocsin.bridge.timers.clocks import BREACHED, MET, RESPONSES, UNANSWERED

NO_TEAM = "(none)"
FAR = 1e12  # seconds from the epoch: past any stored time (an open pause ends there)
# A span no interval overlaps (it ends before it starts): VALUES needs at least one row.
NOWHERE = ("", FAR, -FAR)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The events that end a cycle of each clock: an update clock starts afresh on every note.
CYCLE_ENDS = {
    "response": ("incident.acknowledged", "incident.resolved"),
    "update": ("incident.note_added", "incident.resolved", "incident.closed"),
    "resolution": ("incident.resolved",),
}
PAUSE_KINDS = ("incident.paused", "incident.resumed")
WINDOW_TABLE = "report_window"  # the temporary table of the window's incidents
Id = BigInteger().with_variant(Integer(), "sqlite")
STREAM_ROWS = 2000  # durations fetched per round trip while ranking
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


def _window_table() -> Table:
    return Table(
        WINDOW_TABLE,
        MetaData(),
        Column("id", Id, primary_key=True, autoincrement=False),
        Column("created_at", UtcTime),
        Column("priority", String),
        Column("team", String),
        Column("week", Integer),
        Column("c", Float),
        Column("a", Float),
        Column("r", Float),
        Column("acknowledged_by", String),
        Column("major", Boolean),
        Column("satisfaction", Integer),
        Column("satisfaction_by", String),
        prefixes=["TEMPORARY"],
    )


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
        incidents.c.major,
        incidents.c.satisfaction,
        incidents.c.satisfaction_by,
    ).where(created >= window.since, created < window.until)
    if window.team is not None:
        query = query.where(incidents.c.team == window.team)
    if window.priority is not None:
        query = query.where(incidents.c.priority == window.priority)
    table = _window_table()
    table.create(conn)
    try:
        conn.execute(insert(table).from_select([c.name for c in table.c], query))
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ANALYZE {WINDOW_TABLE}")  # a temporary table has no statistics
        yield table
    except Exception:
        # PostgreSQL's failed transaction drops the table as it rolls back; SQLite keeps it.
        if conn.dialect.name == "sqlite":
            table.drop(conn)
        raise
    table.drop(conn)


def _timeline_of(inc: FromClause) -> tuple[Any, Any]:
    """Return the condition that an event belongs to the window's incidents.

    An incident's events come after it opened: the (kind, occurred_at) index then reads only
    the events since the window's first incident, not the whole history's.
    """
    first = select(func.min(inc.c.created_at)).scalar_subquery()
    return events.c.incident_id.in_(select(inc.c.id)), events.c.occurred_at >= first


def _pauses(inc: FromClause) -> CTE:
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
        .where(events.c.kind.in_(PAUSE_KINDS), *_timeline_of(inc))
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


def _intervals(inc: FromClause) -> CTE:
    # Each duration's whole interval, carrying its cell. 'p', a person's time to acknowledge,
    # keeps its pauses and carries the person who acknowledged where the others carry the team.
    def part(what: str, group: Any, end: Any) -> Select[Any]:
        return select(
            inc.c.id,
            inc.c.priority,
            group.label("team"),
            inc.c.week,
            literal(what).label("what"),
            inc.c.c.label("x0"),
            end.label("x1"),
        ).where(end.is_not(None))

    person = part("p", inc.c.acknowledged_by, inc.c.a).where(
        func.coalesce(inc.c.acknowledged_by, "") != ""
    )
    return union_all(part("a", inc.c.team, inc.c.a), part("r", inc.c.team, inc.c.r), person).cte(
        "seg"
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


def spans_of(conn: Connection, inc: FromClause, calendars: Mapping[str, Calendar | None]) -> Spans:
    """Return the working hours each calendar priority's durations may count."""
    latest = type_coerce(
        greatest(
            func.coalesce(incidents.c.acknowledged_at, incidents.c.created_at),
            func.coalesce(incidents.c.resolved_at, incidents.c.created_at),
        ),
        UtcTime,
    )
    rows = conn.execute(
        select(
            incidents.c.priority,
            func.min(incidents.c.created_at).label("first"),
            func.max(latest).label("last"),
        )
        .where(incidents.c.id.in_(select(inc.c.id)))
        .group_by(incidents.c.priority)
    )
    spans: list[tuple[str, float, float]] = []
    calendared = set()
    for priority, first, last in rows:
        calendar = calendars.get(priority)
        if calendar is None:
            continue
        calendared.add(priority)
        day = as_utc(first).astimezone(calendar.timezone).date() - timedelta(days=1)
        end = as_utc(last).astimezone(calendar.timezone).date() + timedelta(days=1)
        while day <= end:
            spans.extend(
                (priority, (s - EPOCH).total_seconds(), (e - EPOCH).total_seconds())
                for s, e in day_intervals(calendar, day)
            )
            day += timedelta(days=1)
    return Spans(frozenset(calendared), spans)


def _counted(priority: Any, x0: Any, x1: Any, span: CTE, spans: Spans) -> Any:
    """Return the seconds of [x0, x1] that count: business hours for a calendar priority."""
    business = (
        select(func.coalesce(func.sum(least(x1, span.c.e) - greatest(x0, span.c.s)), 0.0))
        .where(span.c.priority == priority, span.c.e > x0, span.c.s < x1)
        .scalar_subquery()
    )
    return case((priority.in_(sorted(spans.calendared)), business), else_=greatest(x1 - x0, 0.0))


def durations(inc: FromClause, spans: Spans) -> CTE:
    """Return each incident's active seconds to acknowledge ('a') and to resolve ('r'), and
    the acknowledging person's time ('p', pauses included).

    Each row carries its incident's cell (priority, team or person, week) for the rankings to
    group by. One row per duration, no grouping: the few paused parts are summed apart first.
    """
    seg = _intervals(inc)
    pseg = _paused(_pauses(inc))
    span = (
        values(column("priority", String), column("s", Float), column("e", Float), name="spans")
        .data([*spans.rows, NOWHERE])
        .cte("spans")
    )
    paused = (
        select(
            pseg.c.id,
            pseg.c.what,
            func.sum(_counted(pseg.c.priority, pseg.c.x0, pseg.c.x1, span, spans)).label("secs"),
        )
        .group_by(pseg.c.id, pseg.c.what)
        .cte("paused")
    )
    whole = _counted(seg.c.priority, seg.c.x0, seg.c.x1, span, spans)
    return (
        select(
            seg.c.what,
            greatest(whole - func.coalesce(paused.c.secs, 0.0), 0.0).label("secs"),
            seg.c.priority,
            seg.c.team,
            seg.c.week,
        )
        .select_from(
            seg.outerjoin(paused, and_(paused.c.id == seg.c.id, paused.c.what == seg.c.what))
        )
        .cte("dur")
    )


def durations_in_order(conn: Connection, dur: CTE) -> CursorResult[Any]:
    """Return every duration, shortest first: (what, priority, team, week, secs), streamed.

    One sort the database does once, whatever the groupings: the caller counts ranks per group
    as the rows go by and keeps only those it needs, so its memory stays flat. Close the result
    (use it in a with block): an open cursor keeps the window's table from being dropped.
    """
    query = select(dur.c.what, dur.c.priority, dur.c.team, dur.c.week, dur.c.secs).order_by(
        dur.c.secs
    )
    return conn.execute(query.execution_options(yield_per=STREAM_ROWS))


def cell_columns(inc: FromClause) -> tuple[Any, Any, Any]:
    """Return the columns that name a cell: priority, team and week index."""
    return inc.c.priority, inc.c.team, inc.c.week


def cells(conn: Connection, inc: FromClause) -> list[Any]:
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
        .where(events.c.kind == "incident.escalated", *_timeline_of(inc))
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


def scores(conn: Connection, inc: FromClause) -> list[Any]:
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


def past_breaches(inc: FromClause) -> Select[Any]:
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
        *_timeline_of(inc),
        clock.in_(tuple(CYCLE_ENDS)),
        ~current,
    )


def clock_outcomes(conn: Connection, inc: FromClause) -> list[Any]:
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
        c.incident_id.in_(select(inc.c.id))
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


def breach_rows(conn: Connection, inc: FromClause) -> tuple[Sequence[Any], Sequence[Any]]:
    """Return the missed clocks of the window and the breaches of earlier cycles, with titles."""
    current = conn.execute(
        select(sla_clocks, incidents.c.title, incidents.c.priority, incidents.c.team)
        .join(incidents, incidents.c.id == sla_clocks.c.incident_id)
        .where(sla_clocks.c.incident_id.in_(select(inc.c.id)), missed())
    ).all()
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
    earlier = conn.execute(
        select(
            past,
            stopped.label("stopped_at"),
            incidents.c.title,
            incidents.c.priority,
            incidents.c.team,
        ).join(incidents, incidents.c.id == past.c.incident_id)
    ).all()
    return current, earlier


def unreached_rows(conn: Connection, inc: FromClause) -> list[Any]:
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
                *_timeline_of(inc),
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
