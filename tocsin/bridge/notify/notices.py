"""Queue messages about no incident (scheduled SLA reports) beside the pages, once per key.

A notice has no event or incident id: its sender names it with its own idempotency key (a
report: `report:{name}:{until}:{channel}`), so a period reported by two replicas is sent once.
Webhooks get `{"event", "occurred_at", ...the sender's fields}`; people get a page whose
headline says what it is and for when, e.g. "SLA report 2026-11-16 – 2026-11-23".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tocsin.bridge.notify import queue
from tocsin.bridge.notify.message import Message
from tocsin.bridge.platform.clock import rfc3339

NOTICE_HEADLINES = {"report.sla": "SLA report"}


@dataclass(frozen=True)
class Notice:
    """One message about no incident for one channel; `since`/`until` in the zone to show."""

    event: str
    channel: str
    key: str
    summary: str = ""
    detail: str = ""
    since: datetime | None = None
    until: datetime | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # added to the webhook body
    to: Sequence[str] = ()  # mail addresses, for an email channel without its own list


def describe_period(since: datetime, until: datetime) -> str:
    """Return a period as people read it: whole days as dates, otherwise with the times."""
    if since.timetz() == until.timetz():
        return f"{since:%Y-%m-%d} – {until:%Y-%m-%d}"
    end = f"{until:%H:%M}" if until.date() == since.date() else f"{until:%Y-%m-%d %H:%M}"
    return f"{since:%Y-%m-%d %H:%M} – {end}"


def headline(notice: Notice) -> str:
    """Return the notice's subject: what it is and, when it covers a period, which one."""
    what = NOTICE_HEADLINES.get(notice.event, notice.event)
    if notice.since is None or notice.until is None:
        return what
    return f"{what} {describe_period(notice.since, notice.until)}"


def notice_message(notice: Notice) -> Message:
    """Return the page people get for a notice: no priority, no incident, no acknowledge link."""
    return Message(
        event=notice.event,
        incident_id=None,
        priority="",
        priority_name="",
        title=headline(notice),
        status="",
        summary=notice.summary,
        detail=notice.detail,
    )


def enqueue_notice(conn: Connection, notice: Notice, now: datetime) -> bool:
    """Queue a notice in the caller's transaction unless its key was queued; return if added."""
    body: dict[str, Any] = {"event": notice.event, "occurred_at": rfc3339(now)}
    body.update((name, value) for name, value in notice.fields.items() if name not in body)
    payload = {
        "body": body,
        "message": notice_message(notice).to_json(),
        "to": list(notice.to),
    }
    key = queue.safe_key(notice.key, f"{notice.event}:")
    return queue.insert_once(
        conn, queue.outbox_row(key=key, channel=notice.channel, payload=payload, now=now)
    )
