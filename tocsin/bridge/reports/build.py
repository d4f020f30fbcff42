"""Assemble the SLA report from the database's aggregates: groups, trend, breaches, gaps.

Cells (priority × team × week) add up into the whole window, each priority, each team and each
week of the trend; durations come ranked per group (reports/aggregate.py). A response clock
that the sender's resolution stopped before anyone responded counts in its own column, resolved
before response: not met (the share within target leaves it out), and not a breach unless its
deadline had passed (sla/clocks.py). Exempt breaches are listed apart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import CLOCKS, Calendar
from tocsin.bridge.reports import aggregate as sql
from tocsin.bridge.reports import people
from tocsin.bridge.reports.durations import NO_DURATIONS, Hours, Key, collect, paused_seconds
from tocsin.bridge.reports.figures import (
    Breach,
    ClockStats,
    Dispute,
    DurationStats,
    GroupStats,
    Satisfaction,
    SlaReport,
    Unreached,
)
from tocsin.bridge.reports.people import PersonStats
from tocsin.bridge.reports.trend import Week, by_reason
from tocsin.bridge.timers.clocks import UNANSWERED


class Figures:
    """The window's aggregate rows, summed into the statistics of any group of cells."""

    def __init__(self, conn: Connection, inc: Table, calendars: Mapping[str, Calendar | None]):
        self.cells = {sql.cell_of(r): r for r in sql.cells(conn, inc)}
        self.scores = sql.scores(conn, inc)
        self.outcomes = sql.clock_outcomes(conn, inc)
        self.clocks = sql.clock_names(self.outcomes)
        spans = sql.spans_of(conn, inc, calendars)
        hours = {p: Hours((s, e) for q, s, e in spans.rows if q == p) for p in spans.calendared}
        paused = paused_seconds(sql.paused_parts(conn, inc), hours)
        with sql.window_rows(conn, inc) as rows:
            self.durations = collect(rows, paused, hours)

    def times(self, key: Key) -> DurationStats:
        """Return the statistics of one grouping's durations (none: no durations)."""
        return self.durations.get(key, NO_DURATIONS)

    def people(
        self, breaches: Mapping[str, int], escalations: Mapping[str, int]
    ) -> tuple[PersonStats, ...]:
        """Return one row per person who acknowledged, held a breached incident or was paged."""
        rows = []
        acknowledgers = {key[1] for key in self.durations if key[0] == "person"}
        for person in sorted({*acknowledgers, *breaches, *escalations}):
            times = self.times(("person", person, -1, "p"))
            rows.append(
                PersonStats(
                    person=person,
                    acknowledged=times.count,
                    ack_median_seconds=times.median,
                    ack_p90_seconds=times.p90,
                    breaches=breaches.get(person, 0),
                    escalations=escalations.get(person, 0),
                )
            )
        return tuple(rows)

    def clock_stats(self, keep: Callable[[sql.Cell], bool]) -> dict[str, ClockStats]:
        """Return the outcomes of each clock over the cells kept."""
        counts = {
            name: dict.fromkeys(("met", "breached", "exempt", "running", "ubr"), 0)
            for name in self.clocks
        }
        for row in self.outcomes:
            if keep(sql.cell_of(row)):
                outcome = "ubr" if row.outcome == UNANSWERED else str(row.outcome)
                counts[str(row.clock)][outcome] += int(row.n)
        return {
            name: ClockStats(c["met"], c["breached"], c["exempt"], c["running"], c["ubr"])
            for name, c in counts.items()
        }

    def group(self, keep: Callable[[sql.Cell], bool], rank_key: tuple[str, str]) -> GroupStats:
        """Return every figure of the report for the cells kept."""
        rows = [r for cell, r in self.cells.items() if keep(cell)]
        histogram: dict[int, int] = {}
        own = 0
        for row in self.scores:
            if keep(sql.cell_of(row)):
                score = int(row.satisfaction)
                histogram[score] = histogram.get(score, 0) + int(row.n)
                own += int(row.own or 0)
        rated = sum(histogram.values())
        clocks = self.clock_stats(keep)
        return GroupStats(
            opened=sum(int(r.opened) for r in rows),
            acknowledged=sum(int(r.acknowledged) for r in rows),
            resolved=sum(int(r.resolved) for r in rows),
            time_to_acknowledge=self.times((*rank_key, -1, "a")),
            time_to_resolve=self.times((*rank_key, -1, "r")),
            clocks=clocks,
            breaches=sum(c.breached for c in clocks.values()),
            exemptions=sum(c.exempt for c in clocks.values()),
            escalations=sum(int(r.escalations) for r in rows),
            escalated_incidents=sum(int(r.escalated) for r in rows),
            major_incidents=sum(int(r.major) for r in rows),
            satisfaction=Satisfaction(
                count=rated,
                mean=sum(k * v for k, v in histogram.items()) / rated if rated else None,
                scores=dict(sorted(histogram.items())),
                by_reporter=own,
            ),
        )

    def trend(self, starts: list[datetime]) -> dict[str, tuple[Week, ...]]:
        """Return, per priority, one Week per week of the window, oldest first."""
        trend: dict[str, tuple[Week, ...]] = {}
        for priority in sorted({p for p, _, _ in self.cells}):
            weeks = []
            for index, start in enumerate(starts):

                def keep(cell: sql.Cell, p: str = priority, w: int = index) -> bool:
                    return cell[0] == p and cell[2] == w

                opened = sum(int(r.opened) for c, r in self.cells.items() if keep(c))
                median = self.times(("week", priority, index, "a")).median
                response = self.clock_stats(keep)["response"].within_target
                weeks.append(Week(start, opened, median, response))
            trend[priority] = tuple(weeks)
        return trend


def _on(position: int, value: str) -> Callable[[sql.Cell], bool]:
    return lambda cell: cell[position] == value


def _instant(text: Any, default: datetime) -> datetime:
    try:
        return as_utc(datetime.fromisoformat(str(text).replace("Z", "+00:00")))
    except ValueError:
        return default


def _breach(
    row: Any, clock: str, due: datetime, stopped: datetime | None, now: datetime, **more: Any
) -> Breach:
    end = as_utc(stopped) if stopped is not None else now
    return Breach(
        incident_id=int(row.incident_id),
        title=row.title,
        priority=row.priority,
        team=row.team,
        clock=clock,
        due_at=due,
        late_seconds=max(0.0, (end - due).total_seconds()),
        **more,
    )


def _dispute(row: Any) -> Dispute | None:
    if row.dispute_reason is None:
        return None
    when = [as_utc(v) if v is not None else None for v in (row.disputed_at, row.decided_at)]
    return Dispute(
        row.dispute_reason,
        row.disputed_by,
        when[0],
        row.dispute_decision,
        row.decided_by,
        when[1],
        row.decision_note,
    )


def breaches(conn: Connection, inc: Table, now: datetime) -> list[Breach]:
    """Return every missed deadline, in incident order, then clock order, then time."""
    current, earlier = sql.breach_queries(inc)
    found: list[tuple[tuple[Any, ...], Breach]] = []
    with conn.execute(current.execution_options(yield_per=sql.STREAM_ROWS)) as rows:
        found.extend(_current_breach(row, now) for row in rows)
    with conn.execute(earlier.execution_options(yield_per=sql.STREAM_ROWS)) as rows:
        for row in rows:
            at = as_utc(row.occurred_at)
            due = _instant((row.data or {}).get("due_at"), at)
            breach = _breach(row, row.clock, due, row.stopped_at, now, reason=None, exempt=False)
            key = (breach.incident_id, _clock_order(row.clock), 1, at, int(row.id))
            found.append((key, breach))
    return [b for _, b in sorted(found, key=lambda item: item[0])]


def _current_breach(row: Any, now: datetime) -> tuple[tuple[Any, ...], Breach]:
    """Return a missed clock of sla_clocks as a breach, with its sort key."""
    # A paused clock has no due_at; its breach time is then the deadline it missed.
    due = as_utc(row.due_at or row.breached_at or now)
    breach = _breach(
        row,
        row.clock,
        due,
        row.stopped_at,
        now,
        reason=row.breach_reason,
        exempt=bool(row.breach_exempt),
        dispute=_dispute(row),
    )
    return (breach.incident_id, _clock_order(row.clock), 0), breach


def _clock_order(clock: str) -> int:
    return CLOCKS.index(clock) if clock in CLOCKS else len(CLOCKS)


def unreached(conn: Connection, inc: Table) -> tuple[Unreached, ...]:
    """Return the escalation steps that paged nobody for some targets."""
    return tuple(
        Unreached(
            int(r.incident_id),
            r.title,
            r.priority,
            r.team,
            as_utc(r.occurred_at),
            tuple(str(t) for t in missed),
        )
        for r in sql.unreached_rows(conn, inc)
        if (missed := (r.data or {}).get("unreached"))
    )


def build_report(
    conn: Connection,
    window: sql.Window,
    *,
    now: datetime,
    calendars: Mapping[str, Calendar | None],
    targets: Mapping[str, Mapping[str, float | None]],
    filters: Mapping[str, str],
) -> SlaReport:
    """Build the report of the incidents opened in the window from the database's aggregates."""
    now = as_utc(now)
    with sql.chosen(conn, window) as inc:
        return _report(conn, inc, window, now, calendars, targets, filters)


def _report(
    conn: Connection,
    inc: Table,
    window: sql.Window,
    now: datetime,
    calendars: Mapping[str, Calendar | None],
    targets: Mapping[str, Mapping[str, float | None]],
    filters: Mapping[str, str],
) -> SlaReport:
    """Assemble the report from the window's incidents (sql.chosen)."""
    figures = Figures(conn, inc, calendars)
    every = breaches(conn, inc, now)
    priorities = sorted({p for p, _, _ in figures.cells})
    teams = sorted({t for _, t, _ in figures.cells})
    return SlaReport(
        since=as_utc(window.since),
        until=as_utc(window.until),
        generated_at=now,
        total=figures.group(lambda c: True, ("total", "")),
        by_priority={p: figures.group(_on(0, p), ("priority", p)) for p in priorities},
        by_team={t: figures.group(_on(1, t), ("team", t)) for t in teams},
        breaches=tuple(b for b in every if not b.exempt),
        exemptions=tuple(b for b in every if b.exempt),
        targets=dict(targets),
        filters=dict(filters),
        unreached=unreached(conn, inc),
        trend=figures.trend(window.weeks()),
        breach_reasons=by_reason(b for b in every if not b.exempt),
        people=figures.people(
            people.breaches_held(conn, inc), people.escalations_reaching(conn, inc)
        ),
    )
