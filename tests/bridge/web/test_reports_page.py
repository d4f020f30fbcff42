"""The board's /reports page: figures, chart, CSV, breach reasons, login and CSRF."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from tests.bridge.helpers import OPERATOR, T0, FakeClock, bearer
from tests.bridge.testclient import TestClient
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import events, sla_clocks


def breached_incident(client: TestClient, runtime: Runtime, clock: FakeClock) -> int:
    body = {"title": "payments <down>", "priority": "P1", "team": "ops"}
    incident_id = int(
        client.post("/api/v1/incidents", json=body, headers=bearer(OPERATOR)).json()["id"]
    )
    with runtime.store.begin() as conn:
        conn.execute(sla_clocks.delete().where(sla_clocks.c.incident_id == incident_id))
        conn.execute(
            insert(sla_clocks).values(
                incident_id=incident_id,
                clock="response",
                target_seconds=900,
                started_at=T0,
                due_at=T0 + timedelta(minutes=15),
                breached_at=T0 + timedelta(minutes=15),
            )
        )
    clock.advance(1800)
    return incident_id


def test_page_needs_a_login(anonymous: TestClient) -> None:
    response = anonymous.get("/reports", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/reports")


def test_board_links_to_the_report_page(client: TestClient) -> None:
    assert 'href="/reports"' in client.get("/").text


def test_page_shows_figures_chart_and_escaped_breaches(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    breached_incident(client, runtime, clock)
    html = client.get("/reports?since=1d").text
    assert "<svg" in html and "target 15m" in html
    assert "payments &lt;down&gt;" in html
    assert 'action="/reports/breaches/1/response"' in html


def test_page_speaks_chinese(client: TestClient) -> None:
    client.cookies.set("tocsin_lang", "zh-CN")
    assert "SLA 报表" in client.get("/reports").text


def test_bad_window_shows_an_error_and_the_default_report(client: TestClient) -> None:
    response = client.get("/reports?since=yesterday")
    assert response.status_code == 422
    assert "&#39;yesterday&#39; is neither a span" in response.text


def test_csv_download(client: TestClient, runtime: Runtime, clock: FakeClock) -> None:
    breached_incident(client, runtime, clock)
    response = client.get("/reports.csv?priority=P1")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.splitlines()[1].startswith("priority,P1,1,")


def test_breach_reason_form_records_an_exemption(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    incident_id = breached_incident(client, runtime, clock)
    form = {
        "csrf_token": client.csrf,
        "reason": "reporter unreachable",
        "exempt": "1",
        "back": "/reports?since=1d",
    }  # type: ignore[attr-defined]
    response = client.post(
        f"/reports/breaches/{incident_id}/response", data=form, follow_redirects=False
    )
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/reports?since=1d&saved=1",
    )
    report = client.get("/api/v1/reports/sla", headers=bearer(OPERATOR)).json()
    assert [(e["incident_id"], e["reason"]) for e in report["exemptions"]] == [
        (incident_id, "reporter unreachable")
    ]


def test_breach_reason_form_without_csrf_changes_nothing(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    incident_id = breached_incident(client, runtime, clock)
    response = client.post(f"/reports/breaches/{incident_id}/response", data={"reason": "x"})
    assert response.status_code == 403
    report = client.get("/api/v1/reports/sla", headers=bearer(OPERATOR)).json()
    assert report["breaches"][0]["reason"] is None


def test_reason_for_a_clock_that_was_not_breached_is_refused(client: TestClient) -> None:
    form = {"csrf_token": client.csrf, "reason": "x"}  # type: ignore[attr-defined]
    assert client.post("/reports/breaches/99/response", data=form).status_code == 404


def test_page_lists_escalation_steps_that_reached_nobody(
    client: TestClient, runtime: Runtime, clock: FakeClock
) -> None:
    body = {"title": "disk <full>", "priority": "P2", "team": "ops"}
    incident_id = client.post("/api/v1/incidents", json=body, headers=bearer(OPERATOR)).json()["id"]
    with runtime.store.begin() as conn:
        conn.execute(
            insert(events).values(
                incident_id=incident_id,
                kind="incident.escalated",
                occurred_at=T0 + timedelta(minutes=5),
                data={"level": 2, "targets": [], "unreached": ["schedule:night", "person:bob"]},
            )
        )
    clock.advance(600)
    section = client.get("/reports?since=1d").text.split('id="unreached"')[1]
    assert "schedule:night, person:bob" in section
    assert f'href="/incidents/{incident_id}"' in section and "disk &lt;full&gt;" in section
    assert "2026-03-02 09:05" in section


def test_page_says_when_every_step_reached_someone(client: TestClient) -> None:
    section = client.get("/reports").text.split('id="unreached"')[1]
    assert "None." in section
