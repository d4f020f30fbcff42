"""/api/v1/reports/sla, and recording why a deadline was missed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from tocsin.bridge.accounts import roles
from tocsin.bridge.api import auth
from tocsin.bridge.api.auth import Principal
from tocsin.bridge.api.deps import get_runtime
from tocsin.bridge.api.params import RowId, refuse_nul
from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.reports.breaches import decide, dispute, record_reason
from tocsin.bridge.reports.chart import response_chart
from tocsin.bridge.reports.offload import ReportRequest
from tocsin.bridge.reports.query import parse_window
from tocsin.bridge.reports.render import render
from tocsin.bridge.reports.trend_chart import trend_chart
from tocsin.bridge.runtime import Runtime

router = APIRouter(tags=["reports"])
Manager = Annotated[Principal, Depends(auth.manager)]
Responder = Annotated[Principal, Depends(auth.responder)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
Param = Annotated[str | None, Query(max_length=100)]
MEDIA = {"csv": "text/csv; charset=utf-8", "table": "text/plain; charset=utf-8"}


class BreachReason(BaseModel):
    """Why a deadline was missed; `exempt` leaves the miss out of the shares within target."""

    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    exempt: bool = False


@router.get("/api/v1/reports/sla", response_model=None)
def sla_report(
    _who: Manager,
    runtime: RuntimeDep,
    since: Param = None,
    until: Param = None,
    team: Param = None,
    priority: Param = None,
    format: Literal["json", "csv", "table", "svg"] = "json",
    chart: Literal["response", "trend"] = "response",
) -> Response:
    """Report on incidents opened in [since, until): RFC 3339 times or durations back from now.

    With format=svg, `chart` picks the response-time chart or the weekly trend.
    """
    if priority is not None and priority not in runtime.policy.priorities:
        raise InvalidInput(
            f"priority {priority!r} is not one of {', '.join(runtime.policy.priorities)}",
            field="priority",
        )
    refuse_nul(team, "team")
    now = runtime.clock()
    start, end = parse_window(since, until, now)
    window = ReportRequest(runtime.policy, start, end, now, team=team, priority=priority)
    if format == "json":
        return Response(runtime.reports.report_json(window), media_type="application/json")
    report = runtime.reports.report(window)
    if format == "svg":
        svg = trend_chart(report.trend) if chart == "trend" else response_chart(report)
        return Response(svg, media_type="image/svg+xml")
    return Response(render(report, format), media_type=MEDIA[format])


class DisputeBody(BaseModel):
    """Why the breach should not count."""

    model_config = ConfigDict(extra="forbid")
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class DecisionBody(BaseModel):
    """A manager's decision on a disputed breach."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["upheld", "exempted"]
    note: Annotated[str, Field(max_length=2000)] | None = None


@router.post("/api/v1/incidents/{incident_id}/breaches/{clock}/dispute")
def dispute_breach(
    incident_id: RowId, clock: str, body: DisputeBody, who: Responder, runtime: RuntimeDep
) -> dict[str, Any]:
    """Dispute a breach with a reason, for a manager to decide."""
    with runtime.store.begin() as conn:
        return dispute(
            conn, incident_id, clock, reason=body.reason, actor=who.name, now=runtime.clock()
        )


@router.post("/api/v1/incidents/{incident_id}/breaches/{clock}/decision")
def decide_breach(
    incident_id: RowId, clock: str, body: DecisionBody, who: Manager, runtime: RuntimeDep
) -> dict[str, Any]:
    """Decide a disputed breach (managers only): upheld keeps it, exempted exempts it."""
    with runtime.store.begin() as conn:
        return decide(
            conn,
            runtime.policy,
            incident_id,
            clock,
            decision=body.decision,
            note=body.note,
            actor=who.name,
            now=runtime.clock(),
        )


@router.post("/api/v1/incidents/{incident_id}/breaches/{clock}")
def breach_reason(
    incident_id: RowId, clock: str, body: BreachReason, who: Responder, runtime: RuntimeDep
) -> dict[str, Any]:
    """Record why the clock's deadline was missed, and whether the miss is exempt (managers)."""
    if body.exempt:
        roles.check(who.role, "manage")
    with runtime.store.begin() as conn:
        return record_reason(conn, incident_id, clock, reason=body.reason, exempt=body.exempt)
