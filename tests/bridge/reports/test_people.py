"""The report's per-person table: acknowledgements and their times, breaches, escalations reaching them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, insert

from tests.bridge.helpers import T0, bearer
from tests.bridge.testclient import TestClient
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.reports.people import PersonStats
from tocsin.bridge.reports.query import load_report
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import events, incidents, metadata, sla_clocks
from tocsin.bridge.timers.calendar import elapsed


def _incident(
    number: int, priority: str, by: str | None, after: float, **more: Any
) -> dict[str, Any]:
    opened = more.pop("created_at", T0)
    return {
        "id": number,
        "key": f"k{number}",
        "title": f"incident {number}",
        "priority": priority,
        "status": "acknowledged" if by else "triggered",
        "source": "alert",
        "labels": {},
        "annotations": {},
        "created_at": opened,
        "updated_at": opened,
        "acknowledged_at": opened + timedelta(seconds=after) if by else None,
        "acknowledged_by": by,
        "assignee": more.pop("assignee", by),
        **more,
    }


def _breach(number: int, clock: str) -> dict[str, Any]:
    due = T0 + timedelta(seconds=30)
    return {
        "incident_id": number,
        "clock": clock,
        "target_seconds": 30.0,
        "started_at": T0,
        "due_at": due,
        "breached_at": due,
    }


def _escalated(number: int, level: int, targets: list[str]) -> dict[str, Any]:
    data = {"level": level, "targets": targets}
    return {"incident_id": number, "kind": "incident.escalated", "occurred_at": T0, "data": data}


def test_each_person_gets_acknowledgements_median_p90_breaches_and_escalations(
    database_url: str,
) -> None:
    policy = load_policy()
    friday = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai, the P3 calendar's
    engine = create_engine(database_url)
    metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(incidents),
                [
                    _incident(1, "P1", "ann", 60),
                    _incident(2, "P1", "ann", 120),
                    _incident(3, "P1", None, 0, assignee="bob"),
                    # Over a weekend: business time, as the priority's calendar counts it.
                    _incident(4, "P3", "cat", 3 * 86400, created_at=friday),
                    _incident(5, "P1", "", 10),  # acknowledged by nobody named
                ],
            )
            conn.execute(insert(sla_clocks), [_breach(2, "response"), _breach(3, "resolution")])
            conn.execute(
                insert(events),
                [
                    _escalated(3, 1, ["person:bob", "schedule:ops"]),
                    _escalated(3, 0, ["person:ann"]),  # the first page, not an escalation
                ],
            )
        with engine.connect() as conn:
            report = load_report(
                conn, policy, since=T0, until=T0 + timedelta(days=7), now=T0 + timedelta(days=8)
            )
    finally:
        engine.dispose()
    weekend = elapsed(policy.calendar_for("P3"), friday, friday + timedelta(days=3))
    assert report.people == (
        PersonStats(
            "ann", acknowledged=2, ack_median_seconds=90.0, ack_p90_seconds=114.0, breaches=1
        ),
        PersonStats("bob", breaches=1, escalations=1),
        PersonStats(
            "cat",
            acknowledged=1,
            ack_median_seconds=weekend.total_seconds(),
            ack_p90_seconds=weekend.total_seconds(),
        ),
    )
    assert 0 < weekend.total_seconds() < 86400


def test_nobody_acted_gives_no_rows(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            conn.execute(insert(incidents), [_incident(1, "P1", None, 0)])
        with engine.connect() as conn:
            report = load_report(
                conn, load_policy(), since=T0, until=T0 + timedelta(days=1), now=T0
            )
    finally:
        engine.dispose()
    assert report.people == ()


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
