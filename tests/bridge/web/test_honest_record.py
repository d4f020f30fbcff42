"""A response clock is met only by a person: through the incident JSON, the report, CSV and web.

`client` (tests/bridge/web/conftest.py) is signed in to the web pages; API calls carry a token.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.bridge.helpers import INGEST, OPERATOR, FakeClock, bearer
from tests.bridge.sla.harness import run
from tests.bridge.testclient import TestClient
from tocsin.bridge.platform.clock import rfc3339
from tocsin.bridge.runtime import Runtime

AUTH = bearer(OPERATOR)
LABELS = {"alertname": "DiskFull", "instance": "db1", "severity": "critical"}  # a P1


def send(client: TestClient, clock: FakeClock, *, resolved: bool = False) -> None:
    alert: dict[str, Any] = {"labels": LABELS, "startsAt": rfc3339(clock())}
    if resolved:
        alert["endsAt"] = rfc3339(clock())
    # The sender's clock tells the bridge the alert's endsAt has passed (README: ingest).
    headers = {**bearer(INGEST), "X-Tocsin-Sender-Time": rfc3339(clock())}
    response = client.post("/api/v2/alerts", json=[alert], headers=headers)
    assert response.status_code == 200, response.text


def resolved_by_sender(client: TestClient, clock: FakeClock) -> None:
    """Open a P1 and let its sender resolve it five minutes later, before anyone responded."""
    send(client, clock)
    clock.advance(300)
    send(client, clock, resolved=True)


def only_incident(client: TestClient) -> dict[str, Any]:
    listed = client.get("/api/v1/incidents", headers=AUTH).json()["incidents"]
    assert len(listed) == 1
    return client.get(f"/api/v1/incidents/{listed[0]['id']}", headers=AUTH).json()


def response_figures(client: TestClient) -> dict[str, Any]:
    report = client.get("/api/v1/reports/sla?since=1d", headers=AUTH).json()
    return report["by_priority"]["P1"]["clocks"]["response"]


def test_sender_resolving_before_anyone_responded_is_not_met(
    client: TestClient, clock: FakeClock
) -> None:
    resolved_by_sender(client, clock)
    response = only_incident(client)["sla"]["response"]
    assert (response["met"], response["breached"]) == (False, False)
    assert (response["outcome"], response["stopped_by"]) == ("resolved_before_response", "resolved")
    figures = response_figures(client)
    assert (figures["met"], figures["breached"], figures["resolved_before_response"]) == (0, 0, 1)
    assert figures["within_target_ratio"] is None


def test_sender_resolving_after_the_deadline_is_a_breach(
    client: TestClient, clock: FakeClock, runtime: Runtime
) -> None:
    send(client, clock)
    clock.advance(20 * 60)
    run(runtime)  # the breach timer fires at the 15-minute deadline
    send(client, clock, resolved=True)
    assert only_incident(client)["sla"]["response"]["outcome"] == "breached"
    figures = response_figures(client)
    assert (figures["met"], figures["breached"], figures["resolved_before_response"]) == (0, 1, 0)


def test_first_contact_by_the_service_desk_meets_the_response_clock(
    client: TestClient, clock: FakeClock
) -> None:
    send(client, clock)
    clock.advance(300)
    incident_id = only_incident(client)["id"]
    answer = client.post(
        f"/api/v1/incidents/{incident_id}/contact", json={"note": "called back"}, headers=AUTH
    )
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["status"] == "triggered"  # paging goes on until someone acknowledges
    assert (shown["sla"]["response"]["met"], shown["sla"]["response"]["stopped_by"]) == (
        True,
        "first_contact",
    )
    assert [e["kind"] for e in shown["timeline"]][-1] == "incident.first_contact"
    clock.advance(300)
    send(client, clock, resolved=True)
    assert response_figures(client)["met"] == 1


def test_first_contact_after_acknowledgement_is_a_conflict(
    client: TestClient, clock: FakeClock
) -> None:
    send(client, clock)
    incident_id = only_incident(client)["id"]
    client.post(f"/api/v1/incidents/{incident_id}/ack", headers=AUTH)
    answer = client.post(f"/api/v1/incidents/{incident_id}/contact", headers=AUTH)
    assert answer.status_code == 409
    assert "already acknowledged" in answer.json()["error"]


def test_a_person_resolving_has_responded(client: TestClient, clock: FakeClock) -> None:
    send(client, clock)
    clock.advance(300)
    incident_id = only_incident(client)["id"]
    body = {"root_cause": "log rotation stopped", "solution": "restarted it"}
    client.post(f"/api/v1/incidents/{incident_id}/resolve", json=body, headers=AUTH)
    assert only_incident(client)["sla"]["response"]["outcome"] == "met"


def test_report_csv_and_web_page_show_the_column(client: TestClient, clock: FakeClock) -> None:
    resolved_by_sender(client, clock)
    text = client.get("/api/v1/reports/sla?since=1d&format=csv", headers=AUTH).text
    rows = {row["key"]: row for row in csv.DictReader(io.StringIO(text))}
    assert rows["P1"]["resolved_before_response"] == "1"
    assert rows["P1"]["response_within_target_ratio"] == ""
    page = client.get("/reports?since=1d").text
    assert "Resolved before response" in page and '<td class="unanswered">1</td>' in page
    chinese = client.get("/reports?since=1d", headers={"Accept-Language": "zh-CN"}).text
    assert "响应前已解决" in chinese


def test_follow_up_asks_for_the_root_cause(
    client: TestClient, clock: FakeClock, runtime: Runtime
) -> None:
    resolved_by_sender(client, clock)
    clock.advance(5 * 86400)
    run(runtime)
    timeline = only_incident(client)["timeline"]
    follow_up = [e for e in timeline if e["kind"] == "incident.follow_up_due"]
    assert follow_up and follow_up[0]["data"]["ask_root_cause"] is True
