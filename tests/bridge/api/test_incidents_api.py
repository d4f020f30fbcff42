from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bridge.helpers import INGEST, OPERATOR, bearer, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.server.app import create_app

MANUAL = {"title": "Printer on fire", "priority": "P2", "reporter": "Bob", "contact": "x123"}


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(make_runtime(sqlite_url))) as client:
        yield client


def create(client: TestClient) -> dict:
    response = client.post("/api/v1/incidents", json=MANUAL, headers=bearer(OPERATOR))
    assert response.status_code == 201, response.text
    return response.json()


def test_service_desk_creates_a_triggered_incident(client: TestClient) -> None:
    incident = create(client)
    assert (incident["status"], incident["reporter"], incident["priority"]) == (
        "triggered",
        "Bob",
        "P2",
    )
    assert incident["timeline"][0]["kind"] == "incident.triggered"
    assert incident["timeline"][0]["actor"] == "alice"


def test_ack_records_who_and_when(client: TestClient) -> None:
    incident = create(client)
    acked = client.post(f"/api/v1/incidents/{incident['id']}/ack", headers=bearer(OPERATOR)).json()
    assert acked["status"] == "acknowledged"
    assert acked["acknowledged_by"] == "alice"
    assert acked["acknowledged_at"] == "2026-03-02T09:00:00Z"


def test_ack_of_a_closed_incident_is_a_conflict(client: TestClient) -> None:
    incident_id = create(client)["id"]
    resolution = {"root_cause": "toner", "solution": "extinguisher"}
    client.post(
        f"/api/v1/incidents/{incident_id}/resolve", json=resolution, headers=bearer(OPERATOR)
    )
    client.post(
        f"/api/v1/incidents/{incident_id}/close", json={"satisfaction": 4}, headers=bearer(OPERATOR)
    )
    response = client.post(f"/api/v1/incidents/{incident_id}/ack", headers=bearer(OPERATOR))
    assert response.status_code == 409
    assert "closed" in response.json()["error"]


def test_resolve_without_root_cause_names_the_field(client: TestClient) -> None:
    incident_id = create(client)["id"]
    response = client.post(
        f"/api/v1/incidents/{incident_id}/resolve", json={"solution": "x"}, headers=bearer(OPERATOR)
    )
    assert response.status_code == 422
    assert response.json()["field"] == "root_cause"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), (bearer("wrong"), 401), (bearer(INGEST), 403), (bearer(OPERATOR), 200)],
)
def test_incident_list_needs_an_operator_token(
    client: TestClient, headers: dict, status: int
) -> None:
    assert client.get("/api/v1/incidents", headers=headers).status_code == status


def test_unknown_incident_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/incidents/999", headers=bearer(OPERATOR)).status_code == 404


@pytest.mark.parametrize(
    ("body", "reason"), [({"reason": "customer replied"}, "customer replied"), (None, None)]
)
def test_resume_keeps_an_optional_reason_in_the_timeline(
    client: TestClient, body: dict | None, reason: str | None
) -> None:
    incident_id = create(client)["id"]
    path = f"/api/v1/incidents/{incident_id}"
    client.post(f"{path}/ack", headers=bearer(OPERATOR))
    client.post(f"{path}/pause", json={"reason": "waiting"}, headers=bearer(OPERATOR))
    resumed = client.post(f"{path}/resume", json=body, headers=bearer(OPERATOR))
    assert resumed.status_code == 200, resumed.text
    event = resumed.json()["timeline"][-1]
    assert (event["kind"], event["data"].get("reason")) == ("incident.resumed", reason)
