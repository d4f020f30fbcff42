"""A breach disputed with a reason, decided upheld or exempted by a manager, shown in the report."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from tests.bridge.api.test_reports_api import breached_clock, create
from tests.bridge.helpers import OPERATOR, FakeClock, bearer, config_for
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import sign_in
from tocsin.bridge import migrations
from tocsin.bridge.platform.config import Token, digest
from tocsin.bridge.runtime import Runtime, build_runtime
from tocsin.bridge.server.app import create_app

AUTH, MANAGER = bearer(OPERATOR), bearer("manager-secret")


@pytest.fixture
def runtime(sqlite_url: str) -> Runtime:
    config = config_for(sqlite_url)
    # The bundled policy marks the person 'manager' as one: an operator token of that name.
    config = replace(
        config, tokens=(*config.tokens, Token("manager", "operator", digest("manager-secret")))
    )
    built = build_runtime(config, clock=FakeClock())
    migrations.upgrade(built.store)
    return built


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime, start_workers=False)) as client:
        yield client


def disputed(client: TestClient, runtime: Runtime) -> int:
    incident = create(client)
    breached_clock(runtime, incident)
    body = {"reason": "the alert fired during the announced maintenance"}
    answer = client.post(
        f"/api/v1/incidents/{incident}/breaches/response/dispute", json=body, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    return incident


def report(client: TestClient) -> dict:
    return client.get("/api/v1/reports/sla?since=1d", headers=AUTH).json()


def test_a_dispute_awaits_a_managers_decision(client: TestClient, runtime: Runtime) -> None:
    disputed(client, runtime)
    [breach] = report(client)["breaches"]
    assert breach["dispute"]["reason"] == "the alert fired during the announced maintenance"
    assert (breach["dispute"]["by"], breach["dispute"]["decision"]) == ("alice", None)
    table = client.get("/api/v1/reports/sla?since=1d&format=table", headers=AUTH).text
    assert (
        "disputed by alice: the alert fired" in table and "awaiting a manager's decision" in table
    )


def test_only_a_manager_decides(client: TestClient, runtime: Runtime) -> None:
    incident = disputed(client, runtime)
    path = f"/api/v1/incidents/{incident}/breaches/response/decision"
    refused = client.post(path, json={"decision": "exempted"}, headers=AUTH)
    assert refused.status_code == 403 and "manager: true" in refused.json()["error"]


def test_exempted_moves_the_breach_to_the_exemptions(client: TestClient, runtime: Runtime) -> None:
    incident = disputed(client, runtime)
    path = f"/api/v1/incidents/{incident}/breaches/response/decision"
    body = {"decision": "exempted", "note": "maintenance was announced on Friday"}
    assert client.post(path, json=body, headers=MANAGER).status_code == 200
    shown = report(client)
    assert shown["breaches"] == []
    [exempt] = shown["exemptions"]
    assert (exempt["dispute"]["decision"], exempt["dispute"]["decided_by"]) == (
        "exempted",
        "manager",
    )
    assert shown["by_priority"]["P1"]["clocks"]["response"]["exempt"] == 1


def test_upheld_keeps_the_breach(client: TestClient, runtime: Runtime) -> None:
    incident = disputed(client, runtime)
    path = f"/api/v1/incidents/{incident}/breaches/response/decision"
    client.post(path, json={"decision": "upheld"}, headers=MANAGER)
    [breach] = report(client)["breaches"]
    assert breach["dispute"]["decision"] == "upheld"
    again = client.post(
        f"/api/v1/incidents/{incident}/breaches/response/dispute",
        json={"reason": "x"},
        headers=AUTH,
    )
    assert again.status_code == 409 and "already decided" in again.json()["error"]


def test_decision_needs_a_dispute_and_a_known_decision(
    client: TestClient, runtime: Runtime
) -> None:
    incident = create(client)
    breached_clock(runtime, incident)
    path = f"/api/v1/incidents/{incident}/breaches/response/decision"
    assert client.post(path, json={"decision": "upheld"}, headers=MANAGER).status_code == 409
    bad = client.post(path, json={"decision": "maybe"}, headers=MANAGER)
    assert bad.status_code == 422 and "decision" in bad.text


def test_reports_page_shows_the_dispute(client: TestClient, runtime: Runtime) -> None:
    incident = disputed(client, runtime)
    path = f"/api/v1/incidents/{incident}/breaches/response/decision"
    client.post(path, json={"decision": "upheld"}, headers=MANAGER)
    sign_in(client)
    page = client.get("/reports?since=1d").text
    assert "the alert fired during the announced maintenance" in page and ">upheld<" in page
    chinese = client.get("/reports?since=1d", headers={"Accept-Language": "zh-CN"}).text
    assert "申诉" in chinese and "维持超时" in chinese
