"""SLA clock maths, free of I/O: start, warn, pause, resume, stop and restart a promise's clock.

A clock counts business time when its priority has a calendar, wall time otherwise. While paused
it has no due time and keeps the business time that was left; resuming sets a new due time that
leaves exactly that much. The update clock is restarted by every progress note.

The record never flatters: a response clock is met only by a person's response: an
acknowledgement, a first contact the service desk records, or a person resolving the incident.
One the sender's own resolution stopped before anyone answered is "resolved before response":
not met, and not breached either unless its deadline had passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import CLOCKS, Calendar, PriorityPolicy
from tocsin.bridge.timers import calendar as business

ZERO = timedelta(0)
MET, BREACHED, UNANSWERED = "met", "breached", "resolved_before_response"
# The stops that meet a response clock: a person acknowledged, the service desk answered the
# reporter, or a person resolved the incident. "resolved" (the sender's own) and "closed" do not.
RESPONSES = ("acknowledged", "first_contact", "person_resolved")
# A breach's dispute and its decision (reports/breaches.py): cleared with the breach reason.
DISPUTE_COLUMNS = (
    "dispute_reason",
    "disputed_by",
    "disputed_at",
    "dispute_decision",
    "decided_by",
    "decided_at",
    "decision_note",
)


@dataclass(frozen=True)
class SlaClock:
    """One promise of one incident: the row of sla_clocks as a value."""

    name: str  # response | update | resolution
    target: timedelta
    calendar: str | None
    started_at: datetime
    due_at: datetime | None  # None while paused
    warn_at: datetime | None  # None once past the warning point or warned
    remaining: timedelta | None = None  # set only while paused
    stopped_at: datetime | None = None
    warned_at: datetime | None = None
    breached_at: datetime | None = None
    stopped_by: str | None = None  # RESPONSES, or resolved (by the sender)

    @property
    def paused(self) -> bool:
        """Return whether the clock is held (it has time left but no due time)."""
        return self.due_at is None and self.stopped_at is None

    @property
    def running(self) -> bool:
        """Return whether the clock is counting towards its due time."""
        return self.due_at is not None and self.stopped_at is None


def warn_time(
    cal: Calendar | None, now: datetime, left: timedelta, target: timedelta, fraction: float
) -> datetime | None:
    """Return when the warning goes out: once `fraction` of the target is used, if still ahead."""
    left_at_warning = target - target * fraction
    if left <= left_at_warning:
        return None
    return business.add(cal, now, left - left_at_warning)


def start(
    name: str, target: timedelta, cal: Calendar | None, fraction: float, now: datetime
) -> SlaClock:
    """Start a clock of `target` at `now`."""
    now = as_utc(now)
    return SlaClock(
        name=name,
        target=target,
        calendar=cal.name if cal else None,
        started_at=now,
        due_at=business.add(cal, now, target),
        warn_at=warn_time(cal, now, target, target, fraction),
    )


def start_clocks(priority: PriorityPolicy, cal: Calendar | None, now: datetime) -> list[SlaClock]:
    """Start every clock the priority keeps a promise for."""
    out = []
    for name in CLOCKS:
        target = priority.target(name)
        if target is not None:
            out.append(start(name, target, cal, priority.warn_at, now))
    return out


def pause(clock: SlaClock, cal: Calendar | None, now: datetime) -> SlaClock:
    """Hold a running clock, keeping the business time left (negative once overdue)."""
    if not clock.running or clock.due_at is None:
        return clock
    left = business.elapsed(cal, now, clock.due_at)
    return replace(clock, due_at=None, warn_at=None, remaining=left)


def resume(clock: SlaClock, cal: Calendar | None, fraction: float, now: datetime) -> SlaClock:
    """Restart a held clock so that exactly the time left at the pause remains."""
    if not clock.paused or clock.remaining is None:
        return clock
    now = as_utc(now)
    left = clock.remaining
    # An overdue clock stays overdue by the same business time: its due time is that far back.
    due = business.add(cal, now, left)
    warn = None if clock.warned_at else warn_time(cal, now, left, clock.target, fraction)
    return replace(clock, due_at=due, warn_at=warn, remaining=None)


def stop(clock: SlaClock, now: datetime, by: str | None = None) -> SlaClock:
    """Stop a clock, recording what stopped it (a response, or the incident's end)."""
    if clock.stopped_at is not None:
        return clock
    return replace(clock, stopped_at=as_utc(now), warn_at=None, stopped_by=by)


def reopen(clock: SlaClock, cal: Calendar | None, fraction: float, now: datetime) -> SlaClock:
    """Run a stopped clock again towards its old due time: a reopened incident was never fixed."""
    if clock.stopped_at is None or clock.due_at is None:
        return clock
    left = business.elapsed(cal, as_utc(now), clock.due_at)
    warn = None if clock.warned_at else warn_time(cal, now, left, clock.target, fraction)
    return replace(clock, stopped_at=None, warn_at=warn)


def restart(clock: SlaClock, cal: Calendar | None, fraction: float, now: datetime) -> SlaClock:
    """Begin a new cycle of a clock (the update clock, on a progress note)."""
    fresh = start(clock.name, clock.target, cal, fraction, now)
    return pause(fresh, cal, now) if clock.paused else fresh


def remaining(clock: SlaClock, cal: Calendar | None, now: datetime) -> timedelta | None:
    """Return the business time left (negative when overdue), or the margin kept once stopped."""
    if clock.due_at is None:
        return clock.remaining
    end = clock.stopped_at if clock.stopped_at is not None else as_utc(now)
    return business.elapsed(cal, end, clock.due_at)


def breached(clock: SlaClock, now: datetime) -> bool:
    """Return whether the clock missed its due time (already, or as of now)."""
    if clock.breached_at is not None:
        return True
    if clock.due_at is None:
        return clock.remaining is not None and clock.remaining <= ZERO
    if clock.stopped_at is not None:
        return clock.stopped_at > clock.due_at
    return as_utc(now) >= clock.due_at


def ended(name: str, stopped_by: str | None, late: bool) -> str:
    """Return how a clock that ended counts: breached, met, or resolved before response."""
    if late:
        return BREACHED
    if name == "response" and stopped_by not in RESPONSES:
        return UNANSWERED
    return MET


def outcome(clock: SlaClock, now: datetime) -> str:
    """Return the label counted when a clock ends: met, breached or resolved_before_response."""
    return ended(clock.name, clock.stopped_by, breached(clock, now))


def summary(clock: SlaClock, cal: Calendar | None, now: datetime) -> dict[str, Any]:
    """Return the clock as the incident JSON shows it: target, due time, remaining, breached."""
    left = remaining(clock, cal, now)
    return {
        "target_seconds": clock.target.total_seconds(),
        "due_at": clock.due_at,
        "remaining_seconds": left.total_seconds() if left is not None else None,
        "breached": breached(clock, now),
        "paused": clock.paused,
        "stopped_at": clock.stopped_at,
    }


def from_row(row: Mapping[Any, Any]) -> SlaClock:
    """Build a clock from an sla_clocks row (times from SQLite come back naive: they are UTC)."""

    def when(key: str) -> datetime | None:
        value = row[key]
        return as_utc(value) if value is not None else None

    left = row["remaining_seconds"]
    return SlaClock(
        name=row["clock"],
        target=timedelta(seconds=row["target_seconds"]),
        calendar=row["calendar"],
        started_at=as_utc(row["started_at"]),
        due_at=when("due_at"),
        warn_at=when("warn_at"),
        remaining=timedelta(seconds=left) if left is not None else None,
        stopped_at=when("stopped_at"),
        warned_at=when("warned_at"),
        breached_at=when("breached_at"),
        stopped_by=row.get("stopped_by"),
    )


def to_row(clock: SlaClock) -> dict[str, Any]:
    """Return the sla_clocks column values of a clock (without incident_id).

    A clock not breached has no breach reason: writing it clears the reason and exemption an
    earlier cycle's breach was given (the update clock restarts on every note; that breach stays
    in the timeline). A breached clock leaves them to whoever records them.
    """
    reset = (
        {
            "breach_reason": None,
            "breach_exempt": False,
            **dict.fromkeys(DISPUTE_COLUMNS),
        }
        if clock.breached_at is None
        else {}
    )
    return {
        "clock": clock.name,
        "target_seconds": clock.target.total_seconds(),
        "calendar": clock.calendar,
        "started_at": clock.started_at,
        "due_at": clock.due_at,
        "warn_at": clock.warn_at,
        "remaining_seconds": clock.remaining.total_seconds()
        if clock.remaining is not None
        else None,
        "stopped_at": clock.stopped_at,
        "stopped_by": clock.stopped_by,
        "warned_at": clock.warned_at,
        "breached_at": clock.breached_at,
        **reset,
    }
