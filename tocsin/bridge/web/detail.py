"""The incident page's read model: the incident, its alerts, SLA clocks and timeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, select

from tocsin.bridge.notify.reporter import CHANNEL as REPORTER_MAIL
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.policy.model import Calendar
from tocsin.bridge.store.schema import alerts, events, incidents, outbox, sla_clocks
from tocsin.bridge.timers.clocks import ended
from tocsin.bridge.web.board import Deadline

CLOCK_ORDER = ("response", "update", "resolution")
TIMELINE_LIMIT = 500
ALERT_LIMIT = 200


@dataclass(frozen=True)
class ClockView:
    """One SLA clock with its target and, once stopped, whether it was met."""

    deadline: Deadline
    target_seconds: float
    stopped_at: datetime | None
    stopped_by: str | None = None

    def state(self, now: datetime) -> str:
        if self.stopped_at is not None:
            due = self.deadline.due_at
            late = self.deadline.breached or (due is not None and self.stopped_at > due)
            return ended(self.deadline.clock, self.stopped_by, late)
        return self.deadline.state(now)


@dataclass(frozen=True)
class AlertView:
    labels: Mapping[str, str]
    summary: str
    status: str
    starts_at: datetime
    generator_url: str | None
    runbook_url: str | None


@dataclass(frozen=True)
class EventView:
    kind: str
    actor: str | None
    occurred_at: datetime
    data: Mapping[str, Any]


@dataclass(frozen=True)
class MailView:
    """One mail to the reporter and where it stands: pending, delivered or dead."""

    kind: str
    status: str
    attempts: int
    at: datetime  # when it was delivered, else when it was queued


@dataclass(frozen=True)
class IncidentView:
    """Everything the incident page shows, read in one transaction."""

    row: Mapping[str, Any]
    alerts: list[AlertView] = field(default_factory=list)
    clocks: list[ClockView] = field(default_factory=list)
    timeline: list[EventView] = field(default_factory=list)
    reporter_mails: list[MailView] = field(default_factory=list)

    @property
    def labels(self) -> Mapping[str, str]:
        labels: Mapping[str, str] = self.row["labels"] or {}
        return labels

    @property
    def summary(self) -> str:
        annotations: Mapping[str, str] = self.row["annotations"] or {}
        return str(self.row["summary"] or annotations.get("summary") or "")

    @property
    def runbook_url(self) -> str | None:
        """Return the runbook link from the incident or its first alert, if it is http(s)."""
        candidates = [(self.row["annotations"] or {}).get("runbook_url")]
        candidates += [alert.runbook_url for alert in self.alerts]
        for url in candidates:
            if safe_link(url):
                return str(url).strip()
        return None


def safe_link(url: object) -> bool:
    """Return whether a URL from an alert may be a link: http(s) only, never javascript:."""
    if not isinstance(url, str) or len(url) > 2000:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _link(url: object) -> str | None:
    return str(url).strip() if safe_link(url) else None


def _time(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def load_incident(
    conn: Connection, incident_id: int, calendars: Mapping[str, Calendar] | None = None
) -> IncidentView | None:
    """Read an incident with its alerts, clocks and timeline; None if there is no such id.

    Clocks on one of `calendars` (the policy's) count business time, as on the board.
    """
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).mappings().first()
    if row is None:
        return None
    found_alerts = [
        AlertView(
            labels=alert["labels"] or {},
            summary=str((alert["annotations"] or {}).get("summary", "")),
            status=alert["status"],
            starts_at=as_utc(alert["starts_at"]),
            generator_url=_link(alert["generator_url"]),
            runbook_url=_link((alert["annotations"] or {}).get("runbook_url")),
        )
        for alert in conn.execute(
            select(alerts)
            .where(alerts.c.incident_id == incident_id)
            .order_by(alerts.c.id)
            .limit(ALERT_LIMIT)
        ).mappings()
    ]
    clocks = [
        ClockView(
            deadline=Deadline(
                clock=clock["clock"],
                due_at=_time(clock["due_at"]),
                warn_at=_time(clock["warn_at"]),
                remaining_seconds=clock["remaining_seconds"],
                breached=clock["breached_at"] is not None,
                calendar=(calendars or {}).get(clock["calendar"] or ""),
            ),
            target_seconds=float(clock["target_seconds"]),
            stopped_at=_time(clock["stopped_at"]),
            stopped_by=clock["stopped_by"],
        )
        for clock in conn.execute(
            select(sla_clocks).where(sla_clocks.c.incident_id == incident_id)
        ).mappings()
    ]
    clocks.sort(
        key=lambda c: CLOCK_ORDER.index(c.deadline.clock) if c.deadline.clock in CLOCK_ORDER else 9
    )
    timeline = [
        EventView(
            kind=event["kind"],
            actor=event["actor"],
            occurred_at=as_utc(event["occurred_at"]),
            data=event["data"] or {},
        )
        for event in conn.execute(
            select(events)
            .where(events.c.incident_id == incident_id)
            .order_by(events.c.id.desc())
            .limit(TIMELINE_LIMIT)
        ).mappings()
    ]
    mails = reporter_mails(conn, incident_id) if row["reporter_email"] else []
    return IncidentView(dict(row), found_alerts, clocks, timeline, mails)


def reporter_mails(conn: Connection, incident_id: int) -> list[MailView]:
    """Return the mails queued for the incident's reporter, oldest first (pruned once old)."""
    found = conn.execute(
        select(outbox.c.payload, outbox.c.status, outbox.c.attempts, outbox.c.created_at,
               outbox.c.delivered_at)
        .where(outbox.c.incident_id == incident_id, outbox.c.channel == REPORTER_MAIL)
        .order_by(outbox.c.id)
    )  # fmt: skip
    mails = []
    for row in found:
        mail = (row.payload.get("body") or {}).get("mail") or {}
        at = row.delivered_at or row.created_at
        mails.append(MailView(str(mail.get("kind", "")), row.status, int(row.attempts), as_utc(at)))
    return mails
