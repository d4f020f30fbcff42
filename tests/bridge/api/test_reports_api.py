"""GET /api/v1/reports/sla and POST /api/v1/incidents/{id}/breaches/{clock}."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, insert

from tests.bridge.helpers import INGEST, OPERATOR, T0, FakeClock, bearer
from tests.bridge.sla.harness import run
from tests.bridge.testclient import TestClient
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import sla_clocks

AUTH = bearer(OPERATOR)


def create(client: TestClient, priority: str = "P1", team: str = "ops") -> int:
    body = {"title": "db down", "priority": priority, "team": team}
    response = client.post("/api/v1/incidents", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def breached_clock(runtime: Runtime, incident_id: int, clock: str = "response") -> None:
    """Give the incident a response clock that was missed by 10 minutes, and move past it."""
    runtime.clock.advance(1800)  # type: ignore[attr-defined]
    with runtime.store.begin() as conn:
        conn.execute(delete(sla_clocks).where(sla_clocks.c.incident_id == incident_id))
        conn.execute(
            insert(sla_clocks).values(
                incident_id=incident_id,
                clock=clock,
                target_seconds=900,
                started_at=T0,
                due_at=T0 + timedelta(minutes=15),
                stopped_at=T0 + timedelta(minutes=25),
                breached_at=T0 + timedelta(minutes=15),
            )
        )


@pytest.mark.parametrize(("headers", "status"), [({}, 401), (bearer(INGEST), 403)])
def test_report_needs_an_operator_token(client: TestClient, headers: dict, status: int) -> None:
    assert client.get("/api/v1/reports/sla", headers=headers).status_code == status


def test_report_measures_time_to_acknowledge_per_priority(
    client: TestClient, clock: FakeClock
) -> None:
    first, _second = create(client), create(client, "P2", "db")
    clock.advance(300)
    client.post(f"/api/v1/incidents/{first}/ack", headers=AUTH)
    report = client.get("/api/v1/reports/sla?since=1h", headers=AUTH).json()
    assert report["total"]["opened"] == 2
    assert report["by_priority"]["P1"]["time_to_acknowledge_seconds"]["median"] == 300
    assert set(report["by_team"]) == {"ops", "db"}
    assert report["targets_seconds"]["P1"]["response"] == 900


def test_team_and_priority_filter_the_incidents(client: TestClient, clock: FakeClock) -> None:
    create(client)
    create(client, "P2", "db")
    clock.advance(1)
    report = client.get("/api/v1/reports/sla?team=db&priority=P2", headers=AUTH).json()
    assert (report["total"]["opened"], report["filters"]) == (1, {"team": "db", "priority": "P2"})


def test_window_takes_rfc3339_times(client: TestClient) -> None:
    create(client)
    url = "/api/v1/reports/sla?since=2026-03-02T09:00:01Z&until=2026-03-03T00:00:00%2B08:00"
    report = client.get(url, headers=AUTH).json()
    assert (report["since"], report["until"], report["total"]["opened"]) == (
        "2026-03-02T09:00:01Z",
        "2026-03-02T16:00:00Z",
        0,
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=yesterday", "since"),
        ("until=2026-03-02T09:00:00", "until"),
        ("priority=P9", "priority"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    client: TestClient, query: str, field: str
) -> None:
    response = client.get(f"/api/v1/reports/sla?{query}", headers=AUTH)
    assert (response.status_code, response.json()["field"]) == (422, field)


@pytest.mark.parametrize(
    ("fmt", "media", "start"),
    [
        ("csv", "text/csv", "kind,key"),
        ("table", "text/plain", "SLA report"),
        ("svg", "image/svg+xml", "<svg"),
    ],
)
def test_other_formats(client: TestClient, fmt: str, media: str, start: str) -> None:
    create(client)
    response = client.get(f"/api/v1/reports/sla?format={fmt}", headers=AUTH)
    assert response.headers["content-type"].startswith(media)
    assert response.text.startswith(start)


def test_recorded_exempt_reason_moves_the_breach_to_exemptions(
    client: TestClient, runtime: Runtime
) -> None:
    incident_id = create(client)
    breached_clock(runtime, incident_id)
    body = {"reason": "reporter did not provide information", "exempt": True}
    response = client.post(
        f"/api/v1/incidents/{incident_id}/breaches/response", json=body, headers=AUTH
    )
    assert response.json()["exempt"] is True
    report = client.get("/api/v1/reports/sla", headers=AUTH).json()
    assert report["breaches"] == []
    assert report["exemptions"][0]["reason"] == "reporter did not provide information"
    assert report["exemptions"][0]["late_seconds"] == 600


def test_a_reason_without_exemption_stays_a_breach(client: TestClient, runtime: Runtime) -> None:
    incident_id = create(client)
    breached_clock(runtime, incident_id)
    client.post(
        f"/api/v1/incidents/{incident_id}/breaches/response",
        json={"reason": "pager off"},
        headers=AUTH,
    )
    report = client.get("/api/v1/reports/sla", headers=AUTH).json()
    assert [(b["incident_id"], b["reason"]) for b in report["breaches"]] == [
        (incident_id, "pager off")
    ]


@pytest.mark.parametrize(("name", "status"), [("resolution", 404), ("bogus", 422)])
def test_reason_for_a_clock_that_was_not_breached_is_refused(
    client: TestClient, runtime: Runtime, name: str, status: int
) -> None:
    incident_id = create(client)
    breached_clock(runtime, incident_id)
    response = client.post(
        f"/api/v1/incidents/{incident_id}/breaches/{name}", json={"reason": "x"}, headers=AUTH
    )
    assert response.status_code == status


def test_reason_for_a_met_clock_is_a_conflict(client: TestClient, runtime: Runtime) -> None:
    incident_id = create(client)
    with runtime.store.begin() as conn:
        conn.execute(delete(sla_clocks).where(sla_clocks.c.incident_id == incident_id))
        conn.execute(
            insert(sla_clocks).values(
                incident_id=incident_id,
                clock="response",
                target_seconds=900,
                started_at=T0,
                stopped_at=T0,
            )
        )
    response = client.post(
        f"/api/v1/incidents/{incident_id}/breaches/response", json={"reason": "x"}, headers=AUTH
    )
    assert response.status_code == 409


def test_breach_fired_by_the_sla_engine_is_reported_with_its_lateness(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    incident_id = create(client)  # P1: response due in 15 minutes
    clock.advance(16 * 60)
    run(runtime)  # the warning, then the breach it schedules: both overdue
    clock.advance(4 * 60)
    client.post(f"/api/v1/incidents/{incident_id}/ack", headers=AUTH)
    report = client.get("/api/v1/reports/sla", headers=AUTH).json()
    assert [(b["clock"], b["late_seconds"]) for b in report["breaches"]] == [("response", 300)]
    assert report["total"]["time_to_acknowledge_seconds"]["max"] == 1200
    assert report["total"]["clocks"]["response"]["within_target_ratio"] == 0.0
