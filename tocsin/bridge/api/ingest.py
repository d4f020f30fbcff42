"""Alert and heartbeat intake for senders with ingest tokens: 2xx only once committed.

`POST /api/v2/alerts` takes Alertmanager API v2 postable alerts (what Prometheus and the agent
send); `POST /api/v1/alertmanager` takes Alertmanager's webhook. In a batch with invalid alerts
the valid ones are stored and the answer (400) names the others, as Alertmanager does.
"""

from __future__ import annotations

import threading
import time
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tocsin.bridge.api import auth
from tocsin.bridge.api.errors import error_response, invalid_response
from tocsin.bridge.api.limits import IngestGate
from tocsin.bridge.api.params import without_nul
from tocsin.bridge.ingest.apply import Applied
from tocsin.bridge.ingest.heartbeats import Beat
from tocsin.bridge.ingest.parse import Parsed, load_json, parse_v2, parse_webhook
from tocsin.bridge.ingest.rules import Outcome
from tocsin.bridge.ingest.senderclock import read_sender_clock
from tocsin.bridge.ingest.service import ingest
from tocsin.bridge.runtime import Runtime

router = APIRouter(tags=["ingest"])
_OUTCOMES = tuple((outcome, outcome.value) for outcome in Outcome)  # named in every answer
POSTABLE_ALERTS = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["labels"],
                        "properties": {
                            "labels": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                            "annotations": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                            "startsAt": {"type": "string", "format": "date-time"},
                            "endsAt": {"type": "string", "format": "date-time"},
                            "generatorURL": {"type": "string"},
                        },
                    },
                }
            }
        },
    }
}


class Heartbeat(BaseModel):
    """A host saying it is alive and how often it will say so."""

    model_config = ConfigDict(extra="ignore")

    host: Annotated[str, Field(min_length=1, max_length=255)]
    interval_seconds: Annotated[float, Field(gt=0, le=86400)] = 30.0
    labels: dict[Annotated[str, Field(max_length=256)], Annotated[str, Field(max_length=2000)]] = (
        Field(default_factory=dict, max_length=100)
    )

    @field_validator("*")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        return without_nul(value)


@router.post("/api/v2/alerts", openapi_extra=POSTABLE_ALERTS)
async def post_alerts(request: Request) -> JSONResponse:
    """Receive Alertmanager API v2 postable alerts."""
    return await _intake(request, "v2")


@router.post("/api/v1/alertmanager")
async def post_webhook(request: Request) -> JSONResponse:
    """Receive an Alertmanager webhook notification (version 4)."""
    return await _intake(request, "webhook")


@router.post(
    "/api/v1/heartbeats",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": Heartbeat.model_json_schema()}},
        }
    },
)
async def post_heartbeat(request: Request) -> JSONResponse:
    """Record that a host is alive (1.1 ms of CPU a heartbeat past FastAPI's routing, 1.4 through it)."""
    runtime: Runtime = request.app.state.runtime
    auth.admit(request, runtime, "ingest")
    gate: IngestGate = request.app.state.ingest_gate
    async with gate.slot() as slot:
        try:
            body = Heartbeat.model_validate_json(await request.body())
        except ValidationError as exc:
            # Located as FastAPI locates a body's fields, so the answer is the same as before.
            problems = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors()]
            return invalid_response(request, problems)
        await slot.run(request, partial(_beat, runtime, body))
    return JSONResponse({"status": "success", "host": body.host})


# The hot routes, for tocsin.bridge.api.shortcut: their endpoints need nothing FastAPI would provide.
SHORTCUTS = {
    ("POST", "/api/v2/alerts"): post_alerts,
    ("POST", "/api/v1/alertmanager"): post_webhook,
    ("POST", "/api/v1/heartbeats"): post_heartbeat,
}


def _beat(runtime: Runtime, body: Heartbeat, abandoned: threading.Event) -> None:
    # Heartbeats arriving together share one transaction and one statement (group commit).
    beat = Beat(
        host=body.host,
        interval_seconds=body.interval_seconds,
        labels=body.labels,
        now=runtime.clock(),
        missed=runtime.policy.heartbeat.missed,
        hooks=runtime.heartbeat_hooks,
    )
    runtime.store.write_shared(beat, abandoned)


async def _intake(request: Request, route: str) -> JSONResponse:
    """Admit an ingest token, then store the body's alerts on the ingest gate's threads.

    The token is checked here rather than by a dependency: the alert routes are the hot path
    (every sender, every resend), answered by tocsin.bridge.api.shortcut past FastAPI's routing.
    The gate is entered before the body is read, so a refusal costs nothing but the answer.
    """
    arrived = time.monotonic()  # the queue timeout runs from here
    runtime: Runtime = request.app.state.runtime
    sender = auth.admit(request, runtime, "ingest")
    gate: IngestGate = request.app.state.ingest_gate
    async with gate.slot() as slot:
        body = await request.body()
        return await slot.run(
            request, partial(_receive, request, runtime, body, route, sender.name, arrived)
        )


def _receive(
    request: Request,
    runtime: Runtime,
    body: bytes,
    route: str,
    sender: str,
    arrived: float,
    abandoned: threading.Event,
) -> JSONResponse:
    now = runtime.clock()
    clock = read_sender_clock(request.headers, now, runtime.config.clock_skew_tolerance)
    payload = load_json(body)
    limit = runtime.config.limits.max_alerts_per_request
    runtime.skew_watch.observe(sender, clock, now)
    parsed: Parsed = (
        parse_v2(payload, now, limit, ended_before=clock.ended_before, sent_at=clock.now)
        if route == "v2"
        else parse_webhook(payload, now, limit)
    )
    doubtful_before = now if route == "v2" and clock.now is None else None
    applied = (
        ingest(runtime, parsed.alerts, route, sender, doubtful_before, abandoned, arrived)
        if parsed.alerts
        else Applied()
    )
    counts = _counts(applied, parsed.positions)
    if parsed.rejected:
        first = parsed.rejected[0]
        return error_response(
            request,
            400,
            f"{len(parsed.rejected)} alert(s) invalid, {counts['accepted']} stored; "
            f"{first.field}: {first.error}",
            None,
            {
                "field": first.field,
                "rejected": [
                    {"index": r.index, "field": r.field, "error": r.error} for r in parsed.rejected
                ],
                **counts,
            },
        )
    return JSONResponse({"status": "success", **counts})


def _counts(applied: Applied, positions: list[int]) -> dict[str, Any]:
    """Return the response's summary: incidents opened and resolved, and each alert's outcome.

    `not_stored` names, by its index in the request, each alert that was stored neither as
    firing nor as resolved, and why, so a sender can tell an HA duplicate from a stale message.
    """
    return {
        "accepted": applied.accepted,
        "opened": applied.opened,
        "resolved": applied.resolved,
        "ignored": applied.ignored,
        "outcomes": {name: applied.outcomes.get(outcome, 0) for outcome, name in _OUTCOMES},
        "not_stored": [
            {"index": positions[n], "outcome": outcome.value} for n, outcome in applied.unstored
        ],
    }
