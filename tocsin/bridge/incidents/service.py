"""Operations on stored incidents, each a function of a connection so callers compose them.

Every function here runs inside the caller's write transaction, locks the incident row,
checks the transition with the pure state machine, writes the row and records the event
(whose hooks run in the same transaction). IncidentService wraps them in a transaction of its
own for the API and CLI.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select, update

from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.incidents.assign import Assigner, paged_data
from tocsin.bridge.incidents.events import Event, EventHook, NewEvent, record_event, record_events
from tocsin.bridge.incidents.intake import Report, routed_fields
from tocsin.bridge.incidents.lifecycle import next_status
from tocsin.bridge.platform.clock import Clock, as_utc, utcnow
from tocsin.bridge.policy.model import Target
from tocsin.bridge.store.bulk import insert_rows, schema_defaults
from tocsin.bridge.store.db import Store, lock_incident
from tocsin.bridge.store.schema import incidents

# Built once; values travel as parameters so the compiled statement is reused.
_INSERT_INCIDENT = insert(incidents)


def create_incident(
    conn: Connection,
    hooks: Sequence[EventHook],
    *,
    now: datetime,
    title: str,
    priority: str,
    source: str = "manual",
    key: str | None = None,
    actor: str | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    **fields: Any,
) -> int:
    """Insert a triggered incident (open under `key`) and record incident.triggered."""
    key = key or f"{source}-{uuid.uuid4().hex}"
    result = conn.execute(
        _INSERT_INCIDENT,
        {
            "key": key,
            "open_key": key,
            "title": title,
            "priority": priority,
            "status": "triggered",
            "source": source,
            "labels": dict(labels or {}),
            "annotations": dict(annotations or {}),
            "created_at": now,
            "updated_at": now,
            **fields,
        },
    )
    incident_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    record_event(
        conn,
        hooks,
        incident_id=incident_id,
        kind="incident.triggered",
        actor=actor,
        now=now,
        data={"source": source, "priority": priority},
    )
    return incident_id


def create_incidents(
    conn: Connection,
    hooks: Sequence[EventHook],
    *,
    now: datetime,
    source: str,
    specs: Sequence[Mapping[str, Any]],
) -> list[int]:
    """Insert many triggered incidents in one round trip and record their events together.

    Each spec holds key (distinct), title, priority, labels, annotations and the same other
    columns for all; ids come back in the order of `specs`. The system opens them (no actor).
    """
    opened = insert_incidents(conn, now=now, source=source, specs=specs)
    record_opened(conn, hooks, opened, now=now, source=source)
    return [incident_id for incident_id, _ in opened]


Opened = Sequence[tuple[int, Mapping[str, Any]]]  # an inserted incident's id and its row values


def insert_incidents(
    conn: Connection, *, now: datetime, source: str, specs: Sequence[Mapping[str, Any]]
) -> list[tuple[int, dict[str, Any]]]:
    """Insert triggered incidents without their events: record_opened() records those.

    Ingest inserts the alerts in between, so the opening event's hooks (and the pages they
    queue) see the incident's alerts.
    """
    params = [
        {
            **spec,
            "open_key": spec["key"],
            "status": "triggered",
            "source": source,
            "labels": dict(spec["labels"]),
            "annotations": dict(spec["annotations"]),
            "created_at": now,
            "updated_at": now,
        }
        for spec in specs
    ]
    if not params:
        return []
    # Keys are unique among open incidents: ids are matched by key, so the rows go in one
    # statement (asking for ids in parameter order makes SQLAlchemy insert SQLite rows singly).
    inserted = insert_rows(conn, incidents, params, returning=("id", "open_key"))
    by_key = {row.open_key: int(row.id) for row in inserted}
    return [(by_key[p["key"]], p) for p in params]


def record_opened(
    conn: Connection, hooks: Sequence[EventHook], opened: Opened, *, now: datetime, source: str
) -> None:
    """Record incident.triggered for incidents insert_incidents() inserted, all together."""
    record_events(
        conn,
        hooks,
        [
            NewEvent(
                i,
                "incident.triggered",
                None,
                now,
                {"source": source, "priority": p["priority"]},
                opened=_AsInserted(**{**p, "id": i}),
            )
            for i, p in opened
        ],
    )


# A new incident's row as hooks see it: its own values, and every column it left out as the
# class holds them (NULL but those with a default), so a row costs a namespace of its own
# values only, not a copy of every column.
_AsInserted = type(
    "_AsInserted",
    (SimpleNamespace,),
    {column.name: None for column in incidents.columns} | schema_defaults(incidents),
)


def find_open(conn: Connection, key: str) -> int | None:
    """Return the id of the open incident of a group key, if any."""
    found = conn.execute(select(incidents.c.id).where(incidents.c.open_key == key)).scalar()
    return None if found is None else int(found)


def open_system_incident(
    conn: Connection,
    hooks: Sequence[EventHook],
    *,
    key: str,
    now: datetime,
    title: str,
    priority: str,
    source: str,
    **fields: Any,
) -> tuple[int, bool]:
    """Return (id, created): the open incident of `key`, or a new one the system opened."""
    existing = find_open(conn, key)
    if existing is not None:
        return existing, False
    return create_incident(
        conn, hooks, now=now, title=title, priority=priority, source=source, key=key, **fields
    ), True


def acknowledge(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
) -> Event:
    """Mark the incident acknowledged by `actor` (the response clock is met); unheld, they hold it."""
    values: dict[str, Any] = {"acknowledged_at": now, "acknowledged_by": actor}
    data: dict[str, Any] = {}
    if actor is not None and lock_incident(conn, incident_id).assignee is None:
        values["assignee"] = data["assignee"] = actor
    return _change(
        conn, hooks, incident_id, "ack", "incident.acknowledged", actor, now, values, data
    )


def record_first_contact(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    note: str | None = None,
) -> Event:
    """Record that the service desk answered the reporter: the response clock is met."""
    data = {"note": note} if note else {}
    return _change(
        conn, hooks, incident_id, "contact", "incident.first_contact", actor, now, {}, data
    )


def resolve(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    root_cause: str | None = None,
    solution: str | None = None,
    reason: str | None = None,
) -> Event:
    """Resolve the incident (by a person with cause and solution, or automatically)."""
    row = lock_incident(conn, incident_id)
    values: dict[str, Any] = {
        "resolved_at": now,
        "resolved_by": actor,
        "root_cause": root_cause,
        "solution": solution,
        "open_key": None,
    }
    if row.paused:
        values |= _resume_values(row, now)
    data = {"root_cause": root_cause, "solution": solution}
    if reason:
        data["reason"] = reason
    return _change(
        conn, hooks, incident_id, "resolve", "incident.resolved", actor, now, values, data
    )


def close(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    satisfaction: int | None = None,
    comment: str | None = None,
) -> Event:
    """Close a resolved incident after the follow-up, recording the reporter's satisfaction."""
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise InvalidInput(f"satisfaction {satisfaction} must be 1 to 5", field="satisfaction")
    values: dict[str, Any] = {
        "closed_at": now,
        "closed_by": actor,
        "satisfaction": satisfaction,
        "close_comment": comment,
    }
    data: dict[str, Any] = {"satisfaction": satisfaction, "comment": comment}
    if lock_incident(conn, incident_id).satisfaction_by == "reporter":
        # The reporter's own answer to the survey stands: staff's number goes to the timeline.
        del values["satisfaction"]
    else:
        values["satisfaction_by"] = "staff" if satisfaction is not None else None
    return _change(conn, hooks, incident_id, "close", "incident.closed", actor, now, values, data)


def pause(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    reason: str | None = None,
) -> Event:
    """Stop the clocks while waiting on the reporter."""
    values = {"paused": True, "paused_at": now}
    return _change(
        conn, hooks, incident_id, "pause", "incident.paused", actor, now, values, {"reason": reason}
    )


def resume(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    reason: str | None = None,
) -> Event:
    """Restart the clocks where they stopped; the reason, if given, goes into the event."""
    row = lock_incident(conn, incident_id)
    values = _resume_values(row, now)
    data: dict[str, Any] = {"paused_seconds": values["paused_seconds"] - float(row.paused_seconds)}
    if reason:
        data["reason"] = reason
    return _change(conn, hooks, incident_id, "resume", "incident.resumed", actor, now, values, data)


@dataclass(frozen=True)
class EscalationPlan:
    """What one manual escalation does: incident columns to set, event data, and whom it pages."""

    values: Mapping[str, Any]
    data: Mapping[str, Any]
    targets: tuple[Target, ...] = ()


class Escalator(Protocol):
    """Choose the next level of an incident's escalation policy and page it (the SLA engine)."""

    def plan(self, conn: Connection, row: Any, now: datetime) -> EscalationPlan:
        """Return the next level to page for a locked incident row; may reschedule its timers."""

    def page(self, conn: Connection, row: Any, event: Event, plan: EscalationPlan) -> None:
        """Page the plan's targets for the recorded incident.escalated event."""


def escalate(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    reason: str | None = None,
    data: Mapping[str, Any] | None = None,
    escalator: Escalator | None = None,
) -> Event:
    """Escalate by hand and record why; with an escalator, page the next level now."""
    row = lock_incident(conn, incident_id)
    next_status("escalate", row.status, bool(row.paused))  # refuse before anyone is paged
    if escalator is None:
        level = int(row.escalation_level) + 1
        plan = EscalationPlan({"escalation_level": level}, {"level": level})
    else:
        plan = escalator.plan(conn, row, now)
    payload = {**plan.data, "reason": reason, **(data or {})}
    event = _change(
        conn, hooks, incident_id, "escalate", "incident.escalated", actor, now, plan.values, payload
    )
    if escalator is not None:
        escalator.page(conn, row, event, plan)
    return event


def reassign(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    assignee: str,
    assigner: Assigner | None = None,
) -> Event:
    """Hand the incident to someone else; with an assigner, only to someone known, and page them."""
    row = lock_incident(conn, incident_id)
    next_status("reassign", row.status, bool(row.paused))  # refuse before anyone is paged
    data: dict[str, Any] = {"assignee": assignee, "previous": row.assignee}
    found = None
    if assigner is not None:
        assigner.check(assignee)
        found = assigner.reach(assignee, now)
        data |= paged_data(found)
    event = _change(
        conn,
        hooks,
        incident_id,
        "reassign",
        "incident.reassigned",
        actor,
        now,
        {"assignee": assignee},
        data,
    )
    if assigner is not None and found is not None:
        assigner.page(conn, event, found)
    return event


def reopen(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    reason: str | None = None,
) -> Event:
    """Reopen a resolved incident: its clocks run again and it needs a new resolution."""
    row = lock_incident(conn, incident_id)
    status = next_status("reopen", row.status, bool(row.paused), row.acknowledged_at is not None)
    # Alerts of its group join it again, unless a newer incident of the group is open already.
    open_key = None if find_open(conn, row.key) is not None else row.key
    values = {
        "resolved_at": None,
        "resolved_by": None,
        "root_cause": None,
        "solution": None,
        "open_key": open_key,
    }
    data = {
        "reason": reason,
        "status": status,
        "previous_root_cause": row.root_cause,
        "previous_solution": row.solution,
    }
    return _change(
        conn, hooks, incident_id, "reopen", "incident.reopened", actor, now, values, data
    )


def amend(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    root_cause: str,
    solution: str,
) -> Event:
    """Set or correct the root cause and solution of a resolved or closed incident."""
    row = lock_incident(conn, incident_id)
    values = {"root_cause": root_cause, "solution": solution}
    data = {
        "root_cause": root_cause,
        "solution": solution,
        "previous_root_cause": row.root_cause,
        "previous_solution": row.solution,
    }
    return _change(
        conn, hooks, incident_id, "amend", "incident.resolution_edited", actor, now, values, data
    )


def add_note(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    text: str,
    public: bool = False,
    from_reporter: bool = False,
    origin: Mapping[str, str] | None = None,
) -> Event:
    """Append a note; a public one is mailed to the reporter and counts as their update.

    An internal note (the default) stays among staff. A note from the reporter (a reply by
    mail) is public by nature but is never mailed back and is no update from the service;
    `origin` says where the reporter's words came from (sender, via, message_id).
    """
    data: dict[str, Any] = {"text": text, "public": public or from_reporter}
    if from_reporter:
        data |= {**(origin or {}), "from_reporter": True}
    update = public and not from_reporter
    values = {"last_update_at": now} if update else {}
    return _change(
        conn, hooks, incident_id, "notes", "incident.note_added", actor, now, values, data
    )


def retitle(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    *,
    actor: str | None,
    now: datetime,
    title: str,
) -> Event:
    """Give the incident a title by hand; from then on its alerts no longer change it."""
    row = lock_incident(conn, incident_id)
    values = {"title": title, "title_edited_by": actor}
    data = {"title": title, "previous": row.title}
    return _change(
        conn, hooks, incident_id, "retitle", "incident.retitled", actor, now, values, data
    )


OPERATIONS = {
    "ack": acknowledge,
    "contact": record_first_contact,
    "resolve": resolve,
    "close": close,
    "pause": pause,
    "resume": resume,
    "escalate": escalate,
    "reassign": reassign,
    "notes": add_note,
    "reopen": reopen,
    "amend": amend,
    "retitle": retitle,
}


class IncidentService:
    """The operations above, each in a write transaction of its own, on the runtime's clock."""

    def __init__(
        self,
        store: Store,
        hooks: Sequence[EventHook],
        clock: Clock = utcnow,
        escalator: Escalator | None = None,
        assigner: Assigner | None = None,
    ) -> None:
        self.store = store
        self.hooks = hooks
        self.clock = clock
        self.escalator = escalator
        self.assigner = assigner

    def create(self, *, title: str, priority: str, actor: str | None, **fields: Any) -> int:
        """Open an incident by hand (service desk) and return its id."""
        with self.store.begin() as conn:
            return create_incident(
                conn,
                self.hooks,
                now=self.clock(),
                title=title,
                priority=priority,
                actor=actor,
                **fields,
            )

    def report(self, report: Report, *, actor: str | None) -> int:
        """Open a reported incident routed like an alert (team, escalation, priority); page its assignee."""
        with self.store.begin() as conn:
            return self.open_report(conn, report, actor=actor, now=self.clock())

    def open_report(
        self,
        conn: Connection,
        report: Report,
        *,
        actor: str | None,
        now: datetime,
        key: str | None = None,
    ) -> int:
        """Open a reported incident inside the caller's transaction (report() makes one)."""
        if self.assigner is None:
            raise InvalidInput("reports need the policy: this service was built without one")
        fields = routed_fields(self.assigner.policy(), report)
        assignee = fields.pop("assignee")
        incident_id = create_incident(conn, self.hooks, now=now, actor=actor, key=key, **fields)
        if assignee:
            # Assigned as a reassignment is: the timeline says so and the assignee is paged.
            reassign(
                conn,
                self.hooks,
                incident_id,
                actor=actor,
                now=now,
                assignee=assignee,
                assigner=self.assigner,
            )
        return incident_id

    def act(self, incident_id: int, action: str, *, actor: str | None, **params: Any) -> Event:
        """Apply one action (ack, resolve, close, …) by `actor` and return its event."""
        operation = OPERATIONS.get(action)
        if operation is None:
            raise InvalidInput(
                f"unknown action {action!r}; expected one of {', '.join(OPERATIONS)}"
            )
        if operation is escalate and self.escalator is not None:
            params = {**params, "escalator": self.escalator}
        if operation is reassign and self.assigner is not None:
            params = {**params, "assigner": self.assigner}
        with self.store.begin() as conn:
            event: Event = operation(  # type: ignore[operator]
                conn, self.hooks, incident_id, actor=actor, now=self.clock(), **params
            )
            return event


def _resume_values(row: Any, now: datetime) -> dict[str, Any]:
    paused_for = (now - as_utc(row.paused_at)).total_seconds() if row.paused_at else 0.0
    return {
        "paused": False,
        "paused_at": None,
        "paused_seconds": float(row.paused_seconds) + max(0.0, paused_for),
    }


def _change(
    conn: Connection,
    hooks: Sequence[EventHook],
    incident_id: int,
    action: str,
    kind: str,
    actor: str | None,
    now: datetime,
    values: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
) -> Event:
    row = lock_incident(conn, incident_id)
    status = next_status(action, row.status, bool(row.paused), row.acknowledged_at is not None)
    conn.execute(
        update(incidents)
        .where(incidents.c.id == incident_id)
        .values(status=status, updated_at=now, **values)
    )
    return record_event(
        conn, hooks, incident_id=incident_id, kind=kind, actor=actor, now=now, data=data
    )
