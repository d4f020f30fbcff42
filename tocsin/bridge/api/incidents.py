"""/api/v1/incidents: list, get, create by hand, and the actions people take on an incident."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select

from tocsin.bridge.accounts.roles import check_reassign
from tocsin.bridge.api import auth
from tocsin.bridge.api.auth import Principal
from tocsin.bridge.api.deps import RuntimeDep
from tocsin.bridge.api.params import RowId, refuse_nul, row_id, without_nul
from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.incidents.intake import Report
from tocsin.bridge.incidents.lifecycle import STATUSES
from tocsin.bridge.incidents.serialize import incident_json, incidents_json
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import incidents

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])
Reader = Annotated[Principal, Depends(auth.reader)]
Responder = Annotated[Principal, Depends(auth.responder)]
Communicator = Annotated[Principal, Depends(auth.communicator)]
Registrar = Annotated[Principal, Depends(auth.registrar)]
Closer = Annotated[Principal, Depends(auth.closer)]
Text = Annotated[str, Field(min_length=1, max_length=20000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return without_nul(value)


class NewIncident(_Body):
    """A report registered by the service desk (phone, mail, walk-in)."""

    title: Short
    priority: Annotated[str, Field(max_length=8)] | None = None  # None: the route's priority
    description: str = Field(default="", max_length=20000)
    reporter: Short | None = None
    contact: Short | None = None
    email: Annotated[str, Field(min_length=1, max_length=254)] | None = None
    language: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    type: Annotated[str, Field(min_length=1, max_length=50)] | None = None
    service: Short | None = None
    host: Short | None = None
    team: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    assignee: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    escalation: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    labels: dict[Annotated[str, Field(max_length=200)], Annotated[str, Field(max_length=2000)]] = (
        Field(default_factory=dict, max_length=100)
    )


class Resolution(_Body):
    root_cause: Text
    solution: Text


class Closing(_Body):
    satisfaction: Annotated[int, Field(ge=1, le=5)] | None = None
    comment: Annotated[str, Field(max_length=20000)] | None = None


class Reason(_Body):
    reason: Annotated[str, Field(max_length=2000)] | None = None


class Assignment(_Body):
    assignee: Annotated[str, Field(min_length=1, max_length=100)]


class Note(_Body):
    text: Text
    public: bool = False  # mailed to the reporter, and their update; internal by default


class Title(_Body):
    title: Short


@router.get("")
def list_incidents(
    _who: Reader,
    runtime: RuntimeDep,
    status: Annotated[list[str] | None, Query()] = None,
    priority: Annotated[list[str] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> dict[str, Any]:
    """List incidents newest first; `cursor` is the `next_cursor` of the previous page."""
    statuses = _split(status)
    for value in statuses:
        if value not in STATUSES:
            raise InvalidInput(
                f"status {value!r} is not one of {', '.join(STATUSES)}", field="status"
            )
    query = select(incidents).order_by(incidents.c.id.desc()).limit(limit + 1)
    if statuses:
        query = query.where(incidents.c.status.in_(statuses))
    if priority:
        for value in _split(priority):
            refuse_nul(value, "priority")
        query = query.where(incidents.c.priority.in_(_split(priority)))
    if cursor is not None:
        after = row_id(cursor)
        if after is None:
            raise InvalidInput(f"cursor {cursor!r} is not one this API gave out", field="cursor")
        query = query.where(incidents.c.id < after)
    with runtime.store.connect() as conn:
        rows = conn.execute(query).all()
        page = incidents_json(conn, rows[:limit], runtime.clock(), runtime.policy.calendars)
    more = len(rows) > limit
    return {"incidents": page, "next_cursor": str(rows[limit - 1].id) if more else None}


@router.post("", status_code=201)
def create_incident(body: NewIncident, who: Registrar, runtime: RuntimeDep) -> dict[str, Any]:
    """Register an incident reported by phone, mail or in person, routed like an alert."""
    report = Report(
        title=body.title,
        priority=body.priority,
        description=body.description,
        reporter=body.reporter,
        contact=body.contact,
        email=body.email,
        language=body.language,
        report_type=body.type,
        service=body.service,
        host=body.host,
        team=body.team,
        assignee=body.assignee,
        escalation=body.escalation,
        labels=body.labels,
    )
    return _show(runtime, runtime.incidents.report(report, actor=who.name))


@router.get("/{incident_id}")
def get_incident(incident_id: RowId, _who: Reader, runtime: RuntimeDep) -> dict[str, Any]:
    """Return one incident with its alerts and timeline."""
    return _show(runtime, incident_id)


@router.post("/{incident_id}/ack")
def ack(incident_id: RowId, who: Responder, runtime: RuntimeDep) -> dict[str, Any]:
    """Acknowledge: someone is on it; the response clock is met."""
    return _act(runtime, incident_id, "ack", who)


class Contact(_Body):
    note: Annotated[str, Field(max_length=2000)] | None = None


@router.post("/{incident_id}/contact")
def contact(
    incident_id: RowId, who: Communicator, runtime: RuntimeDep, body: Contact | None = None
) -> dict[str, Any]:
    """Record the service desk's first contact with the reporter: the response clock is met."""
    return _act(runtime, incident_id, "contact", who, note=(body or Contact()).note)


@router.post("/{incident_id}/resolve")
def resolve(
    incident_id: RowId, body: Resolution, who: Responder, runtime: RuntimeDep
) -> dict[str, Any]:
    """Resolve with the root cause and the solution (the knowledge base learns from both)."""
    return _act(
        runtime, incident_id, "resolve", who, root_cause=body.root_cause, solution=body.solution
    )


@router.post("/{incident_id}/close")
def close(
    incident_id: RowId, who: Closer, runtime: RuntimeDep, body: Closing | None = None
) -> dict[str, Any]:
    """Close a resolved incident after the follow-up, with the reporter's satisfaction."""
    body = body or Closing()
    return _act(
        runtime, incident_id, "close", who, satisfaction=body.satisfaction, comment=body.comment
    )


@router.post("/{incident_id}/pause")
def pause(
    incident_id: RowId, who: Communicator, runtime: RuntimeDep, body: Reason | None = None
) -> dict[str, Any]:
    """Pause the clocks while waiting on the reporter."""
    return _act(runtime, incident_id, "pause", who, reason=(body or Reason()).reason)


@router.post("/{incident_id}/resume")
def resume(
    incident_id: RowId, who: Communicator, runtime: RuntimeDep, body: Reason | None = None
) -> dict[str, Any]:
    """Resume the clocks where they stopped, with an optional reason for the timeline."""
    return _act(runtime, incident_id, "resume", who, reason=(body or Reason()).reason)


@router.post("/{incident_id}/escalate")
def escalate(
    incident_id: RowId, who: Responder, runtime: RuntimeDep, body: Reason | None = None
) -> dict[str, Any]:
    """Page the next level of the incident's escalation policy now, with an optional reason."""
    return _act(runtime, incident_id, "escalate", who, reason=(body or Reason()).reason)


@router.post("/{incident_id}/reassign")
def reassign(
    incident_id: RowId, body: Assignment, who: Responder, runtime: RuntimeDep
) -> dict[str, Any]:
    """Hand the incident to someone else (a responder: only their own, or take it themselves)."""
    check_reassign(who.role, who.name, assignee_of(runtime.store, incident_id), body.assignee)
    return _act(runtime, incident_id, "reassign", who, assignee=body.assignee)


@router.post("/{incident_id}/reopen")
def reopen(
    incident_id: RowId, who: Responder, runtime: RuntimeDep, body: Reason | None = None
) -> dict[str, Any]:
    """Reopen a resolved incident: its clocks run again and it needs a new resolution."""
    return _act(runtime, incident_id, "reopen", who, reason=(body or Reason()).reason)


@router.post("/{incident_id}/resolution")
def amend(
    incident_id: RowId, body: Resolution, who: Responder, runtime: RuntimeDep
) -> dict[str, Any]:
    """Set or correct the root cause and solution of a resolved or closed incident."""
    return _act(
        runtime, incident_id, "amend", who, root_cause=body.root_cause, solution=body.solution
    )


@router.post("/{incident_id}/title")
def title(
    incident_id: RowId, body: Title, who: Communicator, runtime: RuntimeDep
) -> dict[str, Any]:
    """Give the incident a title by hand; its alerts no longer change it on resends."""
    return _act(runtime, incident_id, "retitle", who, title=body.title)


@router.post("/{incident_id}/notes")
def notes(incident_id: RowId, body: Note, who: Communicator, runtime: RuntimeDep) -> dict[str, Any]:
    """Add a note to the timeline; a public one goes to the reporter and is their update."""
    return _act(runtime, incident_id, "notes", who, text=body.text, public=body.public)


def assignee_of(store: Store, incident_id: int) -> str | None:
    """Return who holds an incident now (None: nobody, or no such incident)."""
    with store.connect() as conn:
        found = conn.execute(select(incidents.c.assignee).where(incidents.c.id == incident_id))
        value = found.scalar()
    return None if value is None else str(value)


def _act(
    runtime: Runtime, incident_id: RowId, action: str, who: Principal, **params: Any
) -> dict[str, Any]:
    runtime.incidents.act(incident_id, action, actor=who.name, **params)
    return _show(runtime, incident_id)


def _show(runtime: Runtime, incident_id: RowId) -> dict[str, Any]:
    with runtime.store.connect() as conn:
        return incident_json(conn, incident_id, runtime.clock(), calendars=runtime.policy.calendars)


def _split(values: list[str] | None) -> list[str]:
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]
