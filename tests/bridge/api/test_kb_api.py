"""GET /api/v1/incidents/{id}/similar and /api/v1/kb/search."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bridge.helpers import INGEST, OPERATOR, bearer, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.server.app import create_app

AUTH = bearer(OPERATOR)


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(make_runtime(sqlite_url), start_workers=False)) as client:
        yield client


def create(client: TestClient, title: str, service: str = "shop") -> int:
    body = {
        "title": title,
        "priority": "P2",
        "service": service,
        "labels": {"alertname": "DiskFull"},
    }
    response = client.post("/api/v1/incidents", json=body, headers=AUTH)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def resolved(client: TestClient, title: str, solution: str, service: str = "shop") -> int:
    incident_id = create(client, title, service)
    body = {"root_cause": "logs not rotated", "solution": solution}
    assert (
        client.post(f"/api/v1/incidents/{incident_id}/resolve", json=body, headers=AUTH).status_code
        == 200
    )
    return incident_id


def test_similar_lists_past_solutions_same_alert_and_service_first(client: TestClient) -> None:
    other = resolved(client, "disk full on web-2", "cleaned /tmp", service="blog")
    same = resolved(client, "volume almost full", "rotated logs")
    new = create(client, "disk full on web-1")
    answer = client.get(f"/api/v1/incidents/{new}/similar", headers=AUTH).json()
    assert [(m["id"], m["same_alert"]) for m in answer["similar"]] == [(same, True), (other, False)]
    assert answer["similar"][0]["solution"] == "rotated logs"


def test_similar_of_unknown_incident_is_404(client: TestClient) -> None:
    assert client.get("/api/v1/incidents/42/similar", headers=AUTH).status_code == 404


def test_search_finds_chinese_solutions(client: TestClient) -> None:
    found = resolved(client, "数据库连接超时", "重启连接池")
    resolved(client, "证书过期", "更新证书")
    answer = client.get("/api/v1/kb/search", params={"q": "连接超时"}, headers=AUTH).json()
    assert [r["id"] for r in answer["results"]] == [found]


def test_search_needs_an_operator(client: TestClient) -> None:
    assert client.get("/api/v1/kb/search?q=x", headers=bearer(INGEST)).status_code == 403
