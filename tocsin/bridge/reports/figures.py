"""The SLA report's figures: what it says per group, per breach and per week.

Times to acknowledge and to resolve leave out paused intervals and count business time where a
priority has a calendar; the share within target comes from the SLA clocks. The database
computes them (reports/aggregate.py, reports/build.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tocsin.bridge.reports.people import PersonStats
from tocsin.bridge.reports.trend import ReasonCount, Week


@dataclass(frozen=True)
class Dispute:
    """A breach disputed with a reason and, once a manager decided, upheld or exempted."""

    reason: str
    by: str | None
    at: datetime | None
    decision: str | None = None  # upheld | exempted; None while undecided
    decided_by: str | None = None
    decided_at: datetime | None = None
    note: str | None = None


@dataclass(frozen=True)
class DurationStats:
    """Median, 90th percentile and maximum of a set of durations, in seconds."""

    count: int
    median: float | None
    p90: float | None
    max: float | None


@dataclass(frozen=True)
class ClockStats:
    """Outcomes of one clock: met, breached, exempt breaches, resolved before response, running."""

    met: int = 0
    breached: int = 0
    exempt: int = 0
    running: int = 0
    resolved_before_response: int = 0

    @property
    def within_target(self) -> float | None:
        """Return met / (met + breached); exemptions, unanswered and running clocks do not count."""
        decided = self.met + self.breached
        return self.met / decided if decided else None


@dataclass(frozen=True)
class Satisfaction:
    """Satisfaction scores: the reporter's own (the survey) or typed by staff at closing."""

    count: int
    mean: float | None
    scores: Mapping[int, int]
    by_reporter: int = 0  # how many of `count` the reporters gave themselves


@dataclass(frozen=True)
class GroupStats:
    """Every figure of the report for one priority, one team, or the whole window."""

    opened: int
    acknowledged: int
    resolved: int
    time_to_acknowledge: DurationStats
    time_to_resolve: DurationStats
    clocks: Mapping[str, ClockStats]
    breaches: int
    exemptions: int
    escalations: int
    escalated_incidents: int
    major_incidents: int
    satisfaction: Satisfaction


@dataclass(frozen=True)
class Breach:
    """A missed deadline: the incident, the clock, how late and the reason recorded for it."""

    incident_id: int
    title: str
    priority: str
    team: str | None
    clock: str
    due_at: datetime
    late_seconds: float
    reason: str | None
    exempt: bool
    dispute: Dispute | None = None


@dataclass(frozen=True)
class Unreached:
    """An escalation step that paged nobody for some targets (a gap in an on-call rotation)."""

    incident_id: int
    title: str
    priority: str
    team: str | None
    at: datetime
    targets: tuple[str, ...]


@dataclass(frozen=True)
class SlaReport:
    """The SLA report of one window, grouped by priority and by team."""

    since: datetime
    until: datetime
    generated_at: datetime
    total: GroupStats
    by_priority: Mapping[str, GroupStats]
    by_team: Mapping[str, GroupStats]
    breaches: tuple[Breach, ...]
    exemptions: tuple[Breach, ...]
    targets: Mapping[str, Mapping[str, float | None]]
    filters: Mapping[str, str] = field(default_factory=dict)
    unreached: tuple[Unreached, ...] = ()
    trend: Mapping[str, tuple[Week, ...]] = field(default_factory=dict)
    breach_reasons: tuple[ReasonCount, ...] = ()
    people: tuple[PersonStats, ...] = ()  # reports/people.py: one row per person
