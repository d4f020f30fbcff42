"""The report's per-person table: acknowledgements and their times, breaches, escalations reaching them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.bridge.helpers import T0, bearer
from tests.bridge.testclient import TestClient
from tocsin.bridge.reports.people import IncidentPeople, PersonStats, person_stats, wall_seconds
from tocsin.bridge.runtime import Runtime


def incident(
    number: int, by: str | None, after: float, assignee: str | None = None
) -> IncidentPeople:
    acknowledged = T0 + timedelta(seconds=after) if by else None
    return IncidentPeople(number, "P1", T0, acknowledged, by, assignee or by)


def test_each_person_gets_acknowledgements_median_p90_breaches_and_escalations() -> None:
    chosen = [incident(1, "ann", 60), incident(2, "ann", 120), incident(3, None, 0, "bob")]
    escalations = [
        (3, {"level": 1, "targets": ["person:bob", "schedule:ops"]}),
        (3, {"level": 0, "targets": ["person:ann"]}),  # the first page, not an escalation
    ]
    rows = person_stats(chosen, [(2, "response"), (3, "resolution")], escalations, wall_seconds)
    assert rows == (
        PersonStats(
            "ann", acknowledged=2, ack_median_seconds=90.0, ack_p90_seconds=114.0, breaches=1
        ),
        PersonStats("bob", breaches=1, escalations=1),
    )


def test_nobody_acted_gives_no_rows() -> None:
    assert person_stats([incident(1, None, 0)], [], [], wall_seconds) == ()


@pytest.fixture
def ann_token(runtime: Runtime) -> str:
    """A responder's own API token."""
    runtime.accounts.add("ann", "Ann Lee", "responder")
    with runtime.store.begin() as conn:
        from tocsin.bridge.accounts.credentials import create_token

        return create_token(conn, "ann", "laptop", "ann", runtime.clock())[0]


def test_acknowledging_makes_the_person_the_assignee_and_names_them(
    client: TestClient, runtime: Runtime, ann_token: str
) -> None:
    created = client.post(
        "/api/v1/incidents",
        json={"title": "db down", "priority": "P1"},
        headers=bearer("operator-secret"),
    )
    number = created.json()["id"]
    runtime.clock.advance(120)  # type: ignore[attr-defined]
    acked = client.post(f"/api/v1/incidents/{number}/ack", headers=bearer(ann_token)).json()
    assert acked["assignee"] == "ann"
    event = next(e for e in acked["timeline"] if e["kind"] == "incident.acknowledged")
    assert event["actor"] == "ann"
    report = client.get("/api/v1/reports/sla?since=1d", headers=bearer("operator-secret")).json()
    ann = next(row for row in report["by_person"] if row["person"] == "ann")
    assert ann["acknowledged"] == 1 and ann["ack_median_seconds"] == 120.0


def test_acknowledging_keeps_an_existing_assignee(client: TestClient, runtime: Runtime) -> None:
    body = {"title": "db down", "priority": "P1", "assignee": "backup"}
    number = client.post("/api/v1/incidents", json=body, headers=bearer("operator-secret")).json()[
        "id"
    ]
    acked = client.post(f"/api/v1/incidents/{number}/ack", headers=bearer("operator-secret"))
    assert acked.json()["assignee"] == "backup"


def test_the_reports_page_has_the_per_person_table_in_chinese(
    client: TestClient, runtime: Runtime, ann_token: str
) -> None:
    from tests.bridge.web.conftest import sign_in

    body = {"title": "db down", "priority": "P1"}
    number = client.post("/api/v1/incidents", json=body, headers=bearer("operator-secret")).json()[
        "id"
    ]
    runtime.clock.advance(60)  # type: ignore[attr-defined]
    client.post(f"/api/v1/incidents/{number}/ack", headers=bearer(ann_token))
    sign_in(client)
    page = client.get("/reports", headers={"Accept-Language": "zh-CN"}).text
    assert "按人员" in page and "Ann Lee" in page


def test_the_csv_and_table_reports_carry_a_row_per_person(
    client: TestClient, runtime: Runtime, ann_token: str
) -> None:
    body = {"title": "db down", "priority": "P1"}
    number = client.post("/api/v1/incidents", json=body, headers=bearer("operator-secret")).json()[
        "id"
    ]
    runtime.clock.advance(90)  # type: ignore[attr-defined]
    client.post(f"/api/v1/incidents/{number}/ack", headers=bearer(ann_token))
    auth = bearer("operator-secret")
    csv_text = client.get("/api/v1/reports/sla?since=1d&format=csv", headers=auth).text
    row = next(line for line in csv_text.splitlines() if line.startswith("person,ann,"))
    assert ",90.0," in row
    table = client.get("/api/v1/reports/sla?since=1d&format=table", headers=auth).text
    assert "By person" in table and "ann" in table.split("By person", 1)[1]
