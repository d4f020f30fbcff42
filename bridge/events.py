"""Incident events: every change is a timeline row, and hooks react to it in the same transaction.

Hooks are how the parts of the bridge hear of changes without importing each other: the SLA
engine starts and stops clocks, the notifier writes outbox rows. A hook runs inside the
transaction that recorded the event, so its writes commit or roll back with the change itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from bridge.store.schema import events

EVENT_KINDS = (
    "incident.triggered",
    "incident.acknowledged",
    "incident.escalated",
    "incident.sla_warning",
    "incident.sla_breached",
    "incident.paused",
    "incident.resumed",
    "incident.reassigned",
    "incident.note_added",
    "incident.resolved",
    "incident.closed",
    "incident.follow_up_due",
)


@dataclass(frozen=True)
class Event:
    """One row of an incident's timeline."""

    id: int
    incident_id: int
    kind: str
    actor: str | None
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)


EventHook = Callable[[Connection, Event], None]


def record_event(
    conn: Connection,
    hooks: Sequence[EventHook],
    *,
    incident_id: int,
    kind: str,
    actor: str | None,
    now: datetime,
    data: Mapping[str, Any] | None = None,
) -> Event:
    """Insert an event and run every hook on it, all in the caller's transaction."""
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}")
    payload = dict(data or {})
    # Values as parameters, not .values(): the compiled statement is cached and reused.
    result = conn.execute(
        insert(events),
        {
            "incident_id": incident_id,
            "kind": kind,
            "actor": actor,
            "occurred_at": now,
            "data": payload,
        },
    )
    event = Event(
        id=int(result.inserted_primary_key[0]),  # type: ignore[index]
        incident_id=incident_id,
        kind=kind,
        actor=actor,
        occurred_at=now,
        data=payload,
    )
    for hook in hooks:
        hook(conn, event)
    return event
