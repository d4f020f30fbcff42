"""The weekly trend and breaches by reason on /reports and as SVG from the API."""

from __future__ import annotations

from xml.etree import ElementTree

from tests.bridge.helpers import OPERATOR, FakeClock, bearer
from tests.bridge.testclient import TestClient

AUTH = bearer(OPERATOR)


def acknowledged_p1(client: TestClient, clock: FakeClock) -> None:
    body = {"title": "db down", "priority": "P1", "team": "ops"}
    incident = client.post("/api/v1/incidents", json=body, headers=AUTH).json()["id"]
    clock.advance(300)
    client.post(f"/api/v1/incidents/{incident}/ack", headers=AUTH)


def test_reports_page_shows_the_weekly_trend_and_reasons(
    client: TestClient, clock: FakeClock
) -> None:
    acknowledged_p1(client, clock)
    page = client.get("/reports?since=7d").text
    assert 'id="trend"' in page and "Weekly trend" in page
    assert "<td>100%</td>" in page  # the P1 met its response target this week
    assert 'id="by-reason"' in page and "Breaches by reason" in page
    chinese = client.get("/reports?since=7d", headers={"Accept-Language": "zh-CN"}).text
    assert "每周趋势" in chinese and "按原因统计的超时" in chinese


def test_api_draws_the_trend_as_svg(client: TestClient, clock: FakeClock) -> None:
    acknowledged_p1(client, clock)
    answer = client.get("/api/v1/reports/sla?since=7d&format=svg&chart=trend", headers=AUTH)
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert ElementTree.fromstring(answer.text).tag == "{http://www.w3.org/2000/svg}svg"
    refused = client.get("/api/v1/reports/sla?format=svg&chart=pie", headers=AUTH)
    assert refused.status_code == 422 and "chart" in refused.text
