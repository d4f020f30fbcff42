"""Scheduled reports: a durable timer per policy `reports:` entry sends the last period's report.

Each schedule keeps one pending timer of kind "report" (subject: the schedule's name). When it
fires, the report covers [due - period, due) — the period meant, even when the bridge was down at
the time and the timer fires late — and goes to the schedule's channels; then the next run is
scheduled. The outbox idempotency key names the schedule, period and channel, so a period is
sent at most once per channel even if two replicas both scheduled it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, update

from tocsin.bridge.notify.notices import Notice, enqueue_notice
from tocsin.bridge.platform.clock import Clock, as_utc, rfc3339, utcnow
from tocsin.bridge.policy.model import Policy, ReportSchedule
from tocsin.bridge.reports.figures import SlaReport
from tocsin.bridge.reports.offload import ReportRequest, ReportRunner
from tocsin.bridge.reports.query import load_report
from tocsin.bridge.reports.render import report_to_dict, to_table
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import timers as timers_table
from tocsin.bridge.timers import rows as timers
from tocsin.bridge.timers.scheduler import Scheduler

log = logging.getLogger(__name__)
KIND = "report"
EVENT = "report.sla"  # the `event` of a report's webhook body, beside the incident events


@dataclass(frozen=True)
class ReportMessage:
    """One report for one channel: its period (in the schedule's zone), text and JSON document."""

    channel: str
    key: str
    schedule: str
    since: datetime
    until: datetime
    text: str
    document: dict[str, Any]


# Queue a report on its channel in the caller's transaction (the notifier's outbox).
ReportSender = Callable[[Connection, ReportMessage, datetime], None]


def next_run(schedule: ReportSchedule, after: datetime) -> datetime:
    """Return the first instant strictly after `after` at the schedule's day and local time."""
    local = as_utc(after).astimezone(schedule.timezone)
    day = local.date()
    for _ in range(9):
        candidate = datetime.combine(day, schedule.at, tzinfo=schedule.timezone).astimezone(UTC)
        if candidate > as_utc(after) and (schedule.day is None or day.weekday() == schedule.day):
            return candidate
        day += timedelta(days=1)
    raise AssertionError("unreachable: a weekday recurs within eight days")


def ensure_scheduled(conn: Connection, schedules: Sequence[ReportSchedule], now: datetime) -> None:
    """Give each schedule one pending timer at its next run; drop timers of removed schedules."""
    wanted = {s.name: s for s in schedules}
    seen: set[str] = set()
    for timer in timers.pending(conn, kinds=[KIND]):
        schedule = wanted.get(timer.subject or "")
        if schedule is None or schedule.name in seen:
            conn.execute(
                update(timers_table).where(timers_table.c.id == timer.id).values(cancelled=True)
            )
            continue
        seen.add(schedule.name)
        due = next_run(schedule, now)
        # An overdue timer fires late (the bridge was down); a future one follows policy edits.
        if timer.due_at > now and timer.due_at != due:
            timers.move(conn, timer.id, due, {"period_seconds": schedule.period.total_seconds()})
    for name, schedule in wanted.items():
        if name not in seen:
            payload = {"period_seconds": schedule.period.total_seconds()}
            timers.schedule(
                conn, KIND, next_run(schedule, now), now=now, subject=name, payload=payload
            )


def report_messages(
    conn: Connection, policy: Policy, schedule: ReportSchedule, until: datetime, now: datetime
) -> list[ReportMessage]:
    """Build the report of the period ending at `until` for each of the schedule's channels."""
    report = load_report(conn, policy, since=until - schedule.period, until=until, now=now)
    return messages_of(report, schedule, until)


def messages_of(
    report: SlaReport, schedule: ReportSchedule, until: datetime
) -> list[ReportMessage]:
    """Return the report of the period ending at `until` as one message per channel."""
    since = until - schedule.period
    text, document = to_table(report), report_to_dict(report)
    return [
        ReportMessage(
            channel=channel,
            key=f"report:{schedule.name}:{rfc3339(until)}:{channel}",
            schedule=schedule.name,
            since=since.astimezone(schedule.timezone),
            until=until.astimezone(schedule.timezone),
            text=text,
            document=document,
        )
        for channel in schedule.channels
    ]


# Build the report of the period ending at `until` (report_messages; a test's seam).
ReportBuilder = Callable[
    [Connection, Policy, ReportSchedule, datetime, datetime], list["ReportMessage"]
]


def handler(
    policy: Callable[[], Policy], send: ReportSender, build: ReportBuilder | None = None
) -> timers.Prepared:
    """Return the "report" timer handler: send the period's report, schedule the next run.

    The report is read on a read connection before the fire transaction (see
    tocsin.bridge.timers.rows.Prepared): building it holds no write lock, so intake goes on.
    """

    def prepare(conn: Connection, timer: timers.Timer, now: datetime) -> list[ReportMessage]:
        current = policy()
        schedule = next((s for s in current.reports if s.name == timer.subject), None)
        if schedule is None:
            return []
        return (build or report_messages)(conn, current, schedule, timer.due_at, now)

    def fire(
        conn: Connection, timer: timers.Timer, messages: list[ReportMessage], now: datetime
    ) -> None:
        schedule = next((s for s in policy().reports if s.name == timer.subject), None)
        if schedule is None:
            log.info(
                "report timer %s: schedule %r is gone from the policy", timer.id, timer.subject
            )
            return
        for message in messages:
            send(conn, message, now)
        # A duplicate (two replicas scheduled this run) ends here: one next run, not two.
        conn.execute(
            update(timers_table)
            .where(
                timers_table.c.kind == KIND,
                timers_table.c.subject == schedule.name,
                timers_table.c.fired_at.is_(None),
                timers_table.c.id != timer.id,
            )
            .values(cancelled=True)
        )
        timers.schedule(
            conn,
            KIND,
            next_run(schedule, max(now, timer.due_at)),
            now=now,
            subject=schedule.name,
            payload={"period_seconds": schedule.period.total_seconds()},
        )

    return timers.Prepared(prepare, fire)


def from_runner(runner: ReportRunner) -> ReportBuilder:
    """Return a builder whose reports the runner computes (in its report process)."""

    def build(
        _conn: Connection, policy: Policy, schedule: ReportSchedule, until: datetime, now: datetime
    ) -> list[ReportMessage]:
        request = ReportRequest(policy, until - schedule.period, until, now)
        return messages_of(runner.report(request), schedule, until)

    return build


def outbox_sender(conn: Connection, message: ReportMessage, now: datetime) -> None:
    """Queue a report in the notifier's outbox, once per key, for its delivery worker to send."""
    document = message.document
    notice = Notice(
        event=EVENT,
        channel=message.channel,
        key=message.key,
        summary=message.text,
        detail=f"'{message.schedule}' report, {document['since']} .. {document['until']}",
        since=message.since,
        until=message.until,
        fields={"report": document},
    )
    enqueue_notice(conn, notice, now)


class ReportTimers:
    """The worker that, at start-up, schedules the policy's reports (the scheduler fires them)."""

    def __init__(self, store: Store, policy: Callable[[], Policy], clock: Clock = utcnow) -> None:
        self.store = store
        self.policy = policy
        self.clock = clock

    def start(self) -> None:
        """Bring the report timers in line with the policy."""
        with self.store.begin() as conn:
            ensure_scheduled(conn, self.policy().reports, self.clock())

    def stop(self) -> None:
        """Nothing runs between start and stop: the scheduler fires the timers."""


def install(
    scheduler: Scheduler,
    store: Store,
    policy: Callable[[], Policy],
    clock: Clock,
    runner: ReportRunner | None = None,
) -> ReportTimers:
    """Fire "report" timers on the SLA engine's scheduler; return the worker that schedules them.

    `policy` is read at each use: a reload replaces the policy whole. With a runner, the
    reports are computed by it (in its report process), else on the scheduler's thread.
    """
    build = None if runner is None else from_runner(runner)
    scheduler.handlers[KIND] = handler(policy, outbox_sender, build)
    return ReportTimers(store, policy, clock)
