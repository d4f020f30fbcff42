from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from tests.bridge.helpers import INGEST, OPERATOR, FakeClock, bearer, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.server.app import create_app

START = "2026-03-02T08:50:00Z"
SENT = {"X-Tocsin-Sender-Time": "2026-03-02T09:00:00Z"}  # the sender's clock agrees with ours


@pytest.fixture
def client(sqlite_url: str, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(
        create_app(make_runtime(sqlite_url, clock, max_body_bytes=64 * 1024, busy_timeout=0.3))
    ) as client:
        yield client


def alert(
    name: str = "DiskFull", starts: str = START, ends: str | None = None, **labels: str
) -> dict:
    body: dict = {"labels": {"alertname": name, "instance": "db1", **labels}, "startsAt": starts}
    if ends:
        body["endsAt"] = ends
    return body


def post(client: TestClient, alerts: list[dict]) -> dict:
    response = client.post("/api/v2/alerts", json=alerts, headers={**bearer(INGEST), **SENT})
    assert response.status_code == 200, response.text
    return response.json()


def incidents(client: TestClient) -> list[dict]:
    return client.get("/api/v1/incidents", headers=bearer(OPERATOR)).json()["incidents"]


def test_repeated_alert_is_one_incident(client: TestClient) -> None:
    post(client, [alert()])
    post(client, [alert(), alert()])
    [incident] = incidents(client)
    detail = client.get(f"/api/v1/incidents/{incident['id']}", headers=bearer(OPERATOR)).json()
    assert detail["alerts"][0]["receive_count"] == 3


def test_webhook_and_v2_of_the_same_labels_are_one_alert(client: TestClient) -> None:
    post(client, [alert()])
    hook = {
        "version": "4",
        "status": "firing",
        "alerts": [{**alert(), "status": "firing", "fingerprint": "x"}],
    }
    response = client.post("/api/v1/alertmanager", json=hook, headers=bearer(INGEST))
    assert response.status_code == 200
    assert len(incidents(client)) == 1


def test_group_by_joins_alerts_in_one_incident(client: TestClient) -> None:
    post(
        client, [alert(severity="critical", device="sda"), alert(severity="critical", device="sdb")]
    )
    [incident] = incidents(client)
    assert incident["priority"] == "P1"


def test_incident_resolves_when_every_alert_resolved(client: TestClient) -> None:
    post(client, [alert()])
    result = post(client, [alert(ends="2026-03-02T08:55:00Z")])
    assert result["resolved"] == 1
    assert incidents(client)[0]["status"] == "resolved"


def test_stale_firing_after_resolve_does_not_reopen(client: TestClient) -> None:
    post(client, [alert()])
    post(client, [alert(ends="2026-03-02T08:55:00Z")])
    assert post(client, [alert()])["ignored"] == 1
    assert [i["status"] for i in incidents(client)] == ["resolved"]


def test_newer_firing_after_resolve_opens_a_new_incident(client: TestClient) -> None:
    post(client, [alert()])
    post(client, [alert(ends="2026-03-02T08:55:00Z")])
    post(client, [alert(starts="2026-03-02T08:58:00Z")])
    assert [i["status"] for i in incidents(client)] == ["triggered", "resolved"]


def test_partial_batch_stores_the_valid_and_names_the_invalid(client: TestClient) -> None:
    response = client.post(
        "/api/v2/alerts", json=[alert(), {"labels": {"a": 5}}], headers=bearer(INGEST)
    )
    assert response.status_code == 400
    assert response.json()["rejected"][0]["field"] == "[1].labels.a"
    assert response.json()["accepted"] == 1
    assert len(incidents(client)) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[" * 5000 + b"]" * 5000, 400),
        (b'{"labels": {}}', 422),
        (b"x" * 70000, 413),
    ],
    ids=["malformed", "deep", "wrong-type", "too-large"],
)
def test_bad_bodies_get_4xx(client: TestClient, body: bytes, status: int) -> None:
    response = client.post("/api/v2/alerts", content=body, headers=bearer(INGEST))
    assert response.status_code == status
    assert "error" in response.json()


def test_operator_token_may_not_send_alerts(client: TestClient) -> None:
    assert (
        client.post("/api/v2/alerts", json=[alert()], headers=bearer(OPERATOR)).status_code == 403
    )


def test_heartbeat_is_stored(client: TestClient) -> None:
    beat = {"host": "db1", "interval_seconds": 30, "labels": {"env": "prod"}}
    assert client.post("/api/v1/heartbeats", json=beat, headers=bearer(INGEST)).status_code == 200
    assert client.post("/api/v1/heartbeats", json=beat, headers=bearer(INGEST)).status_code == 200


def test_locked_database_answers_503_with_retry_after(client: TestClient, sqlite_url: str) -> None:
    locker = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")
    try:
        response = client.post("/api/v2/alerts", json=[alert()], headers=bearer(INGEST))
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
