"""An incident's title follows its alert's latest text, unless a person edited it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.bridge.helpers import INGEST, OPERATOR, FakeClock, bearer, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.policy import parse_policy
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app

GROUPED = """
priorities: {P2: {name: important, response: 30m}}
routes: [{priority: P2, group_by: [alertname]}]
heartbeat: {priority: P2}
"""


@pytest.fixture
def api(database_url: str) -> Iterator[tuple[TestClient, Runtime]]:
    """A client of a runtime on SQLite and on PostgreSQL."""
    runtime = make_runtime(database_url, FakeClock())
    try:
        with TestClient(create_app(runtime, start_workers=False)) as client:
            yield client, runtime
    finally:
        runtime.store.dispose()


def send(client: TestClient, summary: str | None, host: str = "db1", **extra: str) -> None:
    annotations = {"summary": summary} if summary is not None else {}
    alert = {"labels": {"alertname": "DiskFull", "instance": host}, "annotations": annotations}
    alert["annotations"].update(extra)
    response = client.post("/api/v2/alerts", json=[alert], headers=bearer(INGEST))
    assert response.status_code == 200, response.text


def incident(client: TestClient, incident_id: int = 1) -> dict[str, Any]:
    response = client.get(f"/api/v1/incidents/{incident_id}", headers=bearer(OPERATOR))
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def retitles(client: TestClient, incident_id: int = 1) -> list[dict[str, Any]]:
    events = incident(client, incident_id)["timeline"]
    return [e for e in events if e["kind"] == "incident.retitled"]


def test_a_resend_with_a_new_summary_retitles_the_incident_and_says_so(
    api: tuple[TestClient, Runtime],
) -> None:
    client, _ = api
    send(client, "Disk 91% full")
    send(client, "Disk 97% full", description="growing 1 GB/min")
    shown = incident(client)
    assert shown["title"] == "Disk 97% full on db1"
    assert (shown["summary"], shown["description"]) == ("Disk 97% full", "growing 1 GB/min")
    [event] = retitles(client)
    assert event["actor"] is None
    assert event["data"]["previous"] == "Disk 91% full on db1"
    assert event["data"]["title"] == "Disk 97% full on db1"


def test_a_resend_with_the_same_text_writes_no_event(api: tuple[TestClient, Runtime]) -> None:
    client, _ = api
    for _ in range(3):
        send(client, "Disk 91% full")
    assert retitles(client) == []
    assert incident(client)["title"] == "Disk 91% full on db1"


def test_text_changes_within_one_request_are_each_recorded(
    api: tuple[TestClient, Runtime],
) -> None:
    client, _ = api
    send(client, "Disk 91% full")
    alerts = [
        {"labels": {"alertname": "DiskFull", "instance": "db1"}, "annotations": {"summary": s}}
        for s in ("Disk 95% full", "Disk 99% full")
    ]
    assert client.post("/api/v2/alerts", json=alerts, headers=bearer(INGEST)).status_code == 200
    assert [e["data"]["title"] for e in retitles(client)] == [
        "Disk 95% full on db1",
        "Disk 99% full on db1",
    ]
    assert incident(client)["title"] == "Disk 99% full on db1"


def test_a_title_a_person_edited_is_kept_when_the_alert_changes(
    api: tuple[TestClient, Runtime],
) -> None:
    client, _ = api
    send(client, "Disk 91% full")
    response = client.post(
        "/api/v1/incidents/1/title", json={"title": "db1 data volume"}, headers=bearer(OPERATOR)
    )
    assert response.status_code == 200
    assert response.json()["title"] == "db1 data volume"
    assert response.json()["title_edited_by"] == "alice"
    send(client, "Disk 99% full")
    assert incident(client)["title"] == "db1 data volume"
    [edited] = retitles(client)
    assert edited["actor"] == "alice"
    assert edited["data"] == {"title": "db1 data volume", "previous": "Disk 91% full on db1"}


def test_a_grouped_incident_keeps_the_text_of_the_alert_that_named_it(
    api: tuple[TestClient, Runtime],
) -> None:
    client, runtime = api
    runtime.policy = parse_policy(GROUPED)
    send(client, "Disk 91% full", host="db1")
    send(client, "Disk 80% full", host="db2")
    send(client, "Disk 85% full", host="db2")
    assert incident(client)["title"] == "Disk 91% full on db1"
    assert retitles(client) == []
    send(client, "Disk 93% full", host="db1")
    assert incident(client)["title"] == "Disk 93% full on db1"


def test_a_resolved_incident_keeps_its_title(api: tuple[TestClient, Runtime]) -> None:
    client, _ = api
    send(client, "Disk 91% full")
    response = client.post(
        "/api/v1/incidents/1/resolve",
        json={"root_cause": "logs", "solution": "rotated"},
        headers=bearer(OPERATOR),
    )
    assert response.status_code == 200
    send(client, "Disk 99% full")
    assert incident(client)["title"] == "Disk 91% full on db1"
    assert retitles(client) == []


@pytest.mark.parametrize("body", [{}, {"title": ""}, {"title": "x" * 201}])
def test_a_title_edit_names_the_field_it_refuses(
    api: tuple[TestClient, Runtime], body: dict[str, str]
) -> None:
    client, _ = api
    send(client, "Disk 91% full")
    response = client.post("/api/v1/incidents/1/title", json=body, headers=bearer(OPERATOR))
    assert response.status_code == 422
    assert "title" in response.text
