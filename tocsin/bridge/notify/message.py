"""What a page says, decided without I/O from the incident JSON, the event and the time.

A Message is rendered once, when the page is queued, and stored in the outbox row: the page
reports the deadline as it stood when the event happened, whatever the delivery delay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tocsin.bridge.notify.sanitize import clean, safe_link
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.policy.model import Calendar
from tocsin.bridge.sla import calendar as business

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # not %a: that follows the locale
FIELD_LIMIT = 600  # characters per line of a page: robots cap bodies at 4-20 KB

HEADLINES = {
    "incident.triggered": "Triggered",
    "incident.acknowledged": "Acknowledged",
    "incident.first_contact": "First contact",
    "incident.escalated": "Escalated",
    "incident.sla_warning": "SLA warning",
    "incident.sla_breached": "SLA breached",
    "incident.paused": "Paused",
    "incident.resumed": "Resumed",
    "incident.reassigned": "Reassigned",
    "incident.note_added": "Note added",
    "incident.resolved": "Resolved",
    "incident.closed": "Closed",
    "incident.follow_up_due": "Follow-up due",
    "incident.reopened": "Reopened",
    "incident.resolution_edited": "Resolution edited",
}


@dataclass(frozen=True)
class PastResolution:
    """How a similar incident was resolved, shown so the person paged can start from it."""

    incident_id: int
    title: str
    root_cause: str | None = None
    solution: str | None = None
    resolved_at: str | None = None  # RFC 3339


# The knowledge base answers with past resolutions of incidents like this one (same alertname, service).
SimilarFinder = Callable[[Connection, Mapping[str, Any]], Sequence[PastResolution]]


@dataclass(frozen=True)
class Deadline:
    """The next SLA deadline of an incident: which clock, when, and the time left (negative: overdue).

    A clock on a business calendar counts business time: its time left is business seconds and
    `due_local` is the due instant in the calendar's zone, which people read to plan.
    """

    clock: str
    due_at: str  # RFC 3339
    remaining_seconds: float
    business: bool = False
    due_local: str | None = None  # e.g. "Mon 2026-03-09 17:00 Asia/Shanghai"


@dataclass(frozen=True)
class Field:
    """One labelled line of a page; channels render it in their own markup."""

    label: str
    text: str
    url: str | None = None


@dataclass(frozen=True)
class Message:
    """Everything a page shows, channel-neutral; a notice (a report) has no incident id."""

    event: str
    incident_id: int | None
    priority: str
    priority_name: str
    title: str
    status: str
    host: str | None = None
    service: str | None = None
    summary: str = ""
    deadline: Deadline | None = None
    runbook_url: str | None = None
    incident_url: str | None = None
    ack_url: str | None = None
    detail: str = ""  # what this event adds: the SLA clock, the note, the escalation level
    similar: tuple[PastResolution, ...] = field(default_factory=tuple)

    @property
    def headline(self) -> str:
        """Return the one-line subject: priority, what happened, title (a notice: its title)."""
        if self.incident_id is None:
            return clean(self.title)
        what = HEADLINES.get(self.event, self.event)
        name = f" {self.priority_name}" if self.priority_name else ""
        return clean(f"[{self.priority}{name}] {what}: {self.title}")

    def fields(self) -> list[Field]:
        """Return the labelled lines of the page body, sanitised, in reading order, empty ones left out.

        A link that is not absolute http(s) is dropped, so renderers show its text as plain text.
        """
        return [
            Field(clean(f.label), clip(clean(f.text)), safe_link(f.url) if f.url else None)
            for f in self._fields()
        ]

    def _fields(self) -> list[Field]:
        lines = []
        if self.priority or self.priority_name:
            lines.append(Field("Priority", f"{self.priority} {self.priority_name}".strip()))
        if self.detail:
            lines.append(Field("Event", self.detail))
        if self.status:
            lines.append(Field("Status", self.status))
        if self.host:
            lines.append(Field("Host", self.host))
        if self.service:
            lines.append(Field("Service", self.service))
        if self.summary:
            lines.append(Field("Summary", self.summary))
        if self.deadline is not None:
            lines.append(Field("Deadline", describe_deadline(self.deadline)))
        if self.runbook_url:
            lines.append(Field("Runbook", self.runbook_url, self.runbook_url))
        if self.incident_url:
            lines.append(Field("Incident", f"#{self.incident_id}", self.incident_url))
        if self.ack_url:
            lines.append(Field("Acknowledge", "acknowledge in one click", self.ack_url))
        for past in self.similar:
            fix = past.solution or past.root_cause or "no solution recorded"
            lines.append(Field("Similar", f"#{past.incident_id} {past.title}: {fix}"))
        return lines

    def to_json(self) -> dict[str, Any]:
        """Return the message as JSON-ready data for the outbox row."""
        # Copied by hand: every field is flat but these two. dataclasses.asdict, which walks every
        # value recursively, took 32 us a message against 2 us, and a page builds one per place.
        data = dict(vars(self))
        data["deadline"] = None if self.deadline is None else dict(vars(self.deadline))
        data["similar"] = [dict(vars(past)) for past in self.similar]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        """Rebuild a message stored by to_json."""
        values = dict(data)
        deadline = values.pop("deadline", None)
        similar = values.pop("similar", ())
        return cls(
            **values,
            deadline=Deadline(**deadline) if deadline else None,
            similar=tuple(PastResolution(**item) for item in similar),
        )


def clip(text: str, limit: int = FIELD_LIMIT) -> str:
    """Shorten a long text (a pasted log in a note) to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_duration(seconds: float, *, days: bool = True) -> str:
    """Return a short human duration: 45s, 14m 30s, 2h 05m, 3d 4h (business time: 47h 30m)."""
    total = int(abs(seconds))
    whole_days, rest = divmod(total, 86400) if days else (0, total)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if whole_days:
        return f"{whole_days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"


def describe_deadline(deadline: Deadline) -> str:
    """Return e.g. 'response due in 14m 30s (2026-03-02T10:15:00Z)' or 'overdue by 3m'.

    Business time reads in hours, says so, and gives the due time in the calendar's zone:
    'response due in 7h 30m of business hours (Mon 2026-03-09 17:00 Asia/Shanghai)'.
    """
    left = format_duration(deadline.remaining_seconds, days=not deadline.business)
    kind = " of business hours" if deadline.business else ""
    when = deadline.due_local or deadline.due_at
    if deadline.remaining_seconds < 0:
        return f"{deadline.clock} overdue by {left}{kind} ({when})"
    return f"{deadline.clock} due in {left}{kind} ({when})"


def local_time(instant: datetime, calendar: Calendar) -> str:
    """Return an instant as the calendar's people read it: 'Mon 2026-03-09 17:00 Asia/Shanghai'."""
    local = instant.astimezone(calendar.timezone)
    return f"{WEEKDAYS[local.weekday()]} {local:%Y-%m-%d %H:%M} {calendar.timezone.key}"


def next_deadline(
    sla: Mapping[str, Any] | None,
    now: datetime,
    calendars: Mapping[str, Calendar] | None = None,
) -> Deadline | None:
    """Return the earliest running deadline; an already breached one only if nothing else runs.

    A clock on one of `calendars` (the policy's) counts business time left; others wall time.
    """
    candidates: list[tuple[bool, datetime, str, Calendar | None]] = []
    for clock, state in (sla or {}).items():
        if not isinstance(state, Mapping) or not state.get("due_at"):
            continue
        due = as_utc(datetime.fromisoformat(str(state["due_at"]).replace("Z", "+00:00")))
        calendar = (calendars or {}).get(str(state.get("calendar") or ""))
        candidates.append((bool(state.get("breached")), due, clock, calendar))
    if not candidates:
        return None
    # An incident's clocks share its priority's calendar: the earliest instant is the least time left.
    breached, due, clock, calendar = min(candidates, key=lambda c: c[:3])
    if calendar is None:
        return Deadline(clock, rfc3339(due) or "", (due - now).total_seconds())
    left = business.elapsed(calendar, now, due).total_seconds()
    return Deadline(clock, rfc3339(due) or "", left, True, local_time(due, calendar))


def _labels(incident: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = incident.get(key)
    return value if isinstance(value, Mapping) else {}


def _first_annotation(incident: Mapping[str, Any], name: str) -> str | None:
    """Return an annotation from the incident, else from its first alert that carries it."""
    found = _labels(incident, "annotations").get(name)
    if found:
        return str(found)
    for alert in incident.get("alerts") or ():
        if isinstance(alert, Mapping) and _labels(alert, "annotations").get(name):
            return str(_labels(alert, "annotations")[name])
    return None


def event_detail(event: str, data: Mapping[str, Any], actor: str | None) -> str:
    """Return what this event adds to the page, from its timeline data."""
    by = f" by {actor}" if actor else ""
    if event in ("incident.sla_warning", "incident.sla_breached"):
        sla = data.get("sla")
        clock = sla.get("clock") if isinstance(sla, Mapping) else sla
        return f"{HEADLINES[event]} on the {clock or 'SLA'} clock"
    if event == "incident.escalated":
        level = data.get("level")
        return f"escalated to level {level}" if level is not None else "escalated"
    if event == "incident.note_added" and data.get("text"):
        return f"note{by}: {data['text']}"
    if event == "incident.reassigned" and data.get("assignee"):
        return f"assigned to {data['assignee']}{by}"
    return f"{HEADLINES.get(event, event).lower()}{by}"


def build_message(
    incident: Mapping[str, Any],
    *,
    event: str,
    now: datetime,
    priority_name: str = "",
    public_url: str | None = None,
    ack_url: str | None = None,
    detail: str = "",
    similar: Sequence[PastResolution] = (),
    calendars: Mapping[str, Calendar] | None = None,
) -> Message:
    """Return the page for an event on an incident (the API's incident JSON).

    `calendars` (the policy's) let a clock on a business calendar say its business time left.
    """
    labels = _labels(incident, "labels")
    host = incident.get("host") or labels.get("instance") or labels.get("host")
    summary = incident.get("summary") or _first_annotation(incident, "summary") or ""
    base = public_url.rstrip("/") if public_url else None
    return Message(
        event=event,
        incident_id=int(incident["id"]),
        priority=str(incident.get("priority", "")),
        priority_name=priority_name,
        title=str(incident.get("title", "")),
        status=str(incident.get("status", "")),
        host=str(host) if host else None,
        service=str(incident["service"]) if incident.get("service") else None,
        summary=str(summary),
        deadline=next_deadline(incident.get("sla"), now, calendars),
        runbook_url=_first_annotation(incident, "runbook_url") or labels.get("runbook_url"),
        incident_url=f"{base}/incidents/{incident['id']}" if base else None,
        ack_url=ack_url,
        detail=detail,
        similar=tuple(similar),
    )
