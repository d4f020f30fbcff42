"""The workflow through the API: routed reports, pause after ack, reopen, amend, known assignees."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.bridge.helpers import INGEST, OPERATOR, bearer, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.server.app import create_app

AUTH = bearer(OPERATOR)


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(make_runtime(sqlite_url), start_workers=False)) as client:
        yield client


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/incidents", json={"title": "tills down", **body}, headers=AUTH)
    assert response.status_code == 201, response.text
    return dict(response.json())


def act(client: TestClient, incident: dict[str, Any], action: str, **body: Any) -> Any:
    return client.post(f"/api/v1/incidents/{incident['id']}/{action}", json=body, headers=AUTH)


def test_a_report_without_priority_takes_the_routes(client: TestClient) -> None:
    incident = create(client, labels={"severity": "critical"})
    assert (incident["priority"], incident["escalation_policy"]) == ("P1", "ops")


def test_pause_before_ack_is_a_409_that_says_why(client: TestClient) -> None:
    response = act(client, create(client, priority="P1"), "pause", reason="waiting")
    assert response.status_code == 409
    assert "acknowledge the incident before pausing" in response.json()["error"]


def test_reopen_and_amend(client: TestClient) -> None:
    incident = create(client, priority="P2")
    act(client, incident, "resolve", root_cause="c", solution="s")
    reopened = act(client, incident, "reopen", reason="came back").json()
    assert (reopened["status"], reopened["resolved_at"], reopened["root_cause"]) == (
        "triggered",
        None,
        None,
    )
    assert reopened["sla"]["resolution"]["remaining_seconds"] > 0
    act(client, incident, "resolve", root_cause="c2", solution="s2")
    amended = act(client, incident, "resolution", root_cause="really c3", solution="s3").json()
    assert (amended["root_cause"], amended["solution"]) == ("really c3", "s3")


def test_reassign_to_nobody_known_is_refused_naming_the_field(client: TestClient) -> None:
    response = act(client, create(client, priority="P2"), "reassign", assignee="nobody-such")
    assert response.status_code == 422
    assert response.json()["field"] == "assignee"


def test_a_wrong_role_is_refused_in_good_english(client: TestClient) -> None:
    answer = client.get("/api/v1/incidents", headers=bearer(INGEST))
    assert answer.status_code == 403
    assert answer.json()["error"].startswith("an ingest token may not do this; an operator token")
