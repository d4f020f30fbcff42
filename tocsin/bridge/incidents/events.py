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

from tocsin.bridge.store.bulk import insert_rows
from tocsin.bridge.store.schema import events

EVENT_KINDS = (
    "incident.triggered",
    "incident.acknowledged",
    "incident.first_contact",
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
    "incident.reopened",
    "incident.resolution_edited",
    "incident.notified",  # a person's rule step: sent, held for quiet hours, or unreached
    "incident.retitled",
    "incident.survey_answered",
    "incident.reporter_mail_failed",
)

_KNOWN_KINDS = frozenset(EVENT_KINDS)


@dataclass(frozen=True)
class Event:
    """One row of an incident's timeline."""

    id: int
    incident_id: int
    kind: str
    actor: str | None
    occurred_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    # For incident.triggered recorded as the incident was inserted: that row, with attributes
    # named as its columns, so hooks need not read back what the transaction just wrote.
    # Not stored. Hooks write no incident row on triggered, so it is still the row as it is.
    opened: Any = field(default=None, compare=False, repr=False)


EventHook = Callable[[Connection, Event], None]


def public_update(data: Mapping[str, Any]) -> bool:
    """Return whether a note's data makes it an update to the reporter (the update clock's).

    Only a public note from the service counts; notes recorded before notes had the flag were
    all counted then, so the record keeps counting them.
    """
    return bool(data.get("public", True)) and not data.get("from_reporter")


@dataclass(frozen=True)
class NewEvent:
    """An event to record with record_events()."""

    incident_id: int
    kind: str
    actor: str | None
    now: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    opened: Any = None  # see Event.opened


# Built once: values travel as parameters, so SQLAlchemy reuses the compiled statements. Ids
# of a batch come back in parameter order (SQLite and PostgreSQL both support RETURNING).
_INSERT_EVENT = insert(events)
_INSERT_EVENTS = insert(events).returning(events.c.id, sort_by_parameter_order=True)


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
        _INSERT_EVENT,
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


def record_events(
    conn: Connection, hooks: Sequence[EventHook], batch: Sequence[NewEvent]
) -> list[Event]:
    """Insert many events in one round trip, then run every hook on them, in the caller's transaction.

    A hook with a `many(conn, events)` method hears the whole batch at once (to write its own
    rows in bulk); any other hook hears each event in turn. Hooks run in registration order.
    """
    unknown = {item.kind for item in batch} - _KNOWN_KINDS
    if unknown:
        raise ValueError(f"unknown event kind {min(unknown)!r}")
    if not batch:
        return []
    payloads = [dict(item.data) for item in batch]
    params = [
        {
            "incident_id": item.incident_id,
            "kind": item.kind,
            "actor": item.actor,
            "occurred_at": item.now,
            "data": payload,
        }
        for item, payload in zip(batch, payloads, strict=True)
    ]
    incident_ids = [item.incident_id for item in batch]
    if len(set(incident_ids)) == len(incident_ids):
        # One event per incident (new incidents, escalated ones): ids matched by incident, so
        # the rows go in one statement (ids in parameter order insert SQLite rows one by one).
        rows = insert_rows(conn, events, params, returning=("id", "incident_id"))
        by_incident = {int(row.incident_id): int(row.id) for row in rows}
        ids = [by_incident[incident_id] for incident_id in incident_ids]
    else:
        ids = [int(i) for i in conn.execute(_INSERT_EVENTS, params).scalars().all()]
    recorded = [
        Event(
            id=int(event_id),
            incident_id=item.incident_id,
            kind=item.kind,
            actor=item.actor,
            occurred_at=item.now,
            data=payload,
            opened=item.opened,
        )
        for event_id, item, payload in zip(ids, batch, payloads, strict=True)
    ]
    for hook in hooks:
        many = getattr(hook, "many", None)
        if many is not None:
            many(conn, recorded)
        else:
            for event in recorded:
                hook(conn, event)
    return recorded
