"""What a page says, decided without I/O from the incident JSON, the event and the time.

A Message is rendered once, when the page is queued, and stored in the outbox row: the page
reports the deadline as it stood when the event happened, whatever the delivery delay.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from tocsin.bridge.notify.sanitize import clean, safe_link
from tocsin.bridge.notify.wording import (
    DEFAULT_LANGUAGE,
    TEXTS,
    describe_deadline,
    language_of,
    local_time,
    page_texts,
    text,
    zone_of,
)
from tocsin.bridge.platform.clock import as_utc, rfc3339
from tocsin.bridge.policy.model import Calendar
from tocsin.bridge.timers import calendar as business

FIELD_LIMIT = 600  # characters per line of a page: robots cap bodies at 4-20 KB
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True)
class PastResolution:
    """How a similar incident was resolved, shown so the person paged can start from it."""

    incident_id: int
    title: str
    root_cause: str | None = None
    solution: str | None = None
    resolved_at: str | None = None  # RFC 3339


# The knowledge base answers with past resolutions of incidents like this one (same alertname, service).
# (connection, incident JSON, a memo shared by the pages written in one transaction)
SimilarFinder = Callable[[Connection, Mapping[str, Any], dict[Any, Any]], Sequence[PastResolution]]


# Deadline and Message are not frozen: nothing changes one once built (stale notices are
# copies, by dataclasses.replace), and a frozen dataclass's __init__, which sets each field
# through object.__setattr__, costs four times as much; a storm builds two of each a page.
@dataclass
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
    zone: str | None = None  # the business calendar's zone, shown when the reader has none


class Field(NamedTuple):
    """One labelled line of a page; channels render it in their own markup."""

    label: str
    text: str
    url: str | None = None


@dataclass
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
    alertname: str | None = None
    severity: str | None = None
    language: str = DEFAULT_LANGUAGE  # the reader's: en or zh-CN
    zone: str | None = None  # the reader's time zone, for the due time
    first: bool = False  # the incident's first page: it reads as a new incident

    def t(self, key: str, **values: object) -> str:
        """Return a page text in the reader's language."""
        return text(self.language, key, **values)

    @property
    def headline(self) -> str:
        """Return the one-line subject: priority, what happened, title (a notice: its title)."""
        if self.incident_id is None:
            return clean(self.title)
        if self.first:
            return clean(self.t("first", priority=self.priority, title=self.title))
        what = self.t(self.event) if self.event in TEXTS[DEFAULT_LANGUAGE] else self.event
        priority = f"{self.priority} {self.priority_name}".strip()
        return clean(self.t("headline", priority=priority, what=what, title=self.title))

    def fields(self) -> list[Field]:
        """Return the labelled lines of the page body, sanitised, in reading order, empty ones left out.

        A link that is not absolute http(s) is dropped, so renderers show its text as plain text.
        """
        return [
            Field(_clean_label(label), clip(clean(shown)), safe_link(url) if url else None)
            for label, shown, url in self._fields()
        ]

    def _fields(self) -> list[tuple[str, str, str | None]]:
        """Return the lines as written, before sanitising: (label, text, link)."""
        texts = page_texts(self.language)
        lines: list[tuple[str, str, str | None]] = []
        if self.priority or self.priority_name:
            shown = f"{self.priority} {self.priority_name}".strip()
            lines.append((texts["label.priority"], shown, None))
        if self.detail:
            lines.append((texts["label.event"], self.detail, None))
        if self.status:
            lines.append((texts["label.status"], self.status, None))
        for key, value in (("label.alert", self.alertname), ("label.host", self.host),
                           ("label.service", self.service), ("label.severity", self.severity),
                           ("label.summary", self.summary)):  # fmt: skip
            if value:
                lines.append((texts[key], value, None))
        if self.deadline is not None:
            lines.append((texts["label.deadline"], self.describe_deadline(self.deadline), None))
        if self.runbook_url:
            lines.append((texts["label.runbook"], self.runbook_url, self.runbook_url))
        if self.incident_url:
            lines.append((texts["label.incident"], f"#{self.incident_id}", self.incident_url))
        if self.ack_url:
            lines.append((texts["label.acknowledge"], texts["ack.text"], self.ack_url))
        for past in self.similar:
            fix = past.solution or past.root_cause or texts["no_fix"]
            line = f"#{past.incident_id} {past.title}: {fix}"
            lines.append((texts["label.similar"], line, None))
        return lines

    def describe_deadline(self, deadline: Deadline) -> str:
        """Return the time left in words and the due time in the reader's zone (else the calendar's)."""
        zone = zone_of(self.zone) or zone_of(deadline.zone) or UTC_ZONE
        due = as_utc(datetime.fromisoformat(deadline.due_at))
        return describe_deadline(
            deadline.clock, deadline.remaining_seconds, due, zone, self.language, deadline.business
        )

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


# Labels are the page texts of two languages: each cleaned once, not once a page.
_clean_label = lru_cache(maxsize=128)(clean)


def clip(text: str, limit: int = FIELD_LIMIT) -> str:
    """Shorten a long text (a pasted log in a note) to `limit` characters, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
    breached, due, clock, calendar = (
        candidates[0] if len(candidates) == 1 else min(candidates, key=lambda c: c[:3])
    )
    if calendar is None:
        return Deadline(clock, rfc3339(due) or "", (due - now).total_seconds())
    left = business.elapsed(calendar, now, due).total_seconds()
    shown = local_time(due, calendar.timezone, DEFAULT_LANGUAGE)
    return Deadline(clock, rfc3339(due) or "", left, True, shown, calendar.timezone.key)


def _labels(incident: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = incident.get(key)
    return value if isinstance(value, Mapping) else {}


def _first(incident: Mapping[str, Any], key: str, name: str) -> str | None:
    """Return a label (`key` labels) or annotation of the incident, else of its first alert
    that carries it."""
    found = _labels(incident, key).get(name)
    if found:
        return str(found)
    for alert in incident.get("alerts") or ():
        if isinstance(alert, Mapping):
            found = _labels(alert, key).get(name)
            if found:
                return str(found)
    return None


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
    language: str = DEFAULT_LANGUAGE,
    zone: str | None = None,
    first: bool = False,
) -> Message:
    """Return the page for an event on an incident (the API's incident JSON).

    `calendars` (the policy's) let a clock on a business calendar say its business time left.
    """
    labels = _labels(incident, "labels")
    host = incident.get("host") or labels.get("instance") or labels.get("host")
    summary = incident.get("summary") or _first(incident, "annotations", "summary") or ""
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
        runbook_url=_first(incident, "annotations", "runbook_url") or labels.get("runbook_url"),
        incident_url=f"{base}/incidents/{incident['id']}" if base else None,
        ack_url=ack_url,
        detail=detail,
        similar=tuple(similar),
        alertname=_first(incident, "labels", "alertname"),
        severity=_first(incident, "labels", "severity"),
        language=language_of(language),
        zone=zone,
        first=first,
    )
