"""Board and incident page for a P3 on the business calendar, across a weekend, by a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.bridge.helpers import OPERATOR, FakeClock, bearer
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import sign_in

# Friday 2026-03-06 17:00 in Shanghai (the bundled P3 calendar: Mon-Fri 09-12, 13-18, UTC+8).
FRIDAY_1700 = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(FRIDAY_1700)


@pytest.fixture
def p3(client: TestClient) -> int:
    body = {"title": "printer jams", "priority": "P3"}
    return int(client.post("/api/v1/incidents", json=body, headers=bearer(OPERATOR)).json()["id"])


def saturday_evening(client: TestClient, clock: FakeClock) -> None:
    """Move to Saturday 20:00 in Shanghai, signing in again (a session lasts 12 hours)."""
    clock.advance(27 * 3600)
    sign_in(client)


def countdown(html: str) -> str:
    """Return the first countdown's markup (up to the end of its table cell)."""
    start = html.index('<span class="countdown')
    return html[start : html.index("</td>", start)]


def test_board_shows_business_time_left_and_the_local_due_time(
    client: TestClient, clock: FakeClock, p3: int
) -> None:
    clock.advance(1800)  # Friday 17:30: 30 minutes of the 8 business hours used
    shown = countdown(client.get("/").text)
    assert '<span class="left">7h 30m</span>' in shown
    assert "business hours" in shown and "not counting now" not in shown
    assert "Due Mon 2026-03-09 17:00 Asia/Shanghai" in shown


def test_board_countdown_counts_only_to_the_end_of_working_hours(
    client: TestClient, clock: FakeClock, p3: int
) -> None:
    clock.advance(1800)
    shown = countdown(client.get("/").text)
    assert 'data-left="27000.0" data-at="2026-03-06T09:30:00Z"' in shown
    assert 'data-until="2026-03-06T10:00:00Z"' in shown  # Friday 18:00 in Shanghai


def test_board_stands_still_over_the_weekend(client: TestClient, clock: FakeClock, p3: int) -> None:
    saturday_evening(client, clock)
    shown = countdown(client.get("/").text)
    assert '<span class="left">7h 00m</span>' in shown
    assert "not counting now" in shown and "data-until" not in shown


def test_round_the_clock_countdown_keeps_its_wall_time(client: TestClient) -> None:
    body = {"title": "db down", "priority": "P1"}
    client.post("/api/v1/incidents", json=body, headers=bearer(OPERATOR))
    shown = countdown(client.get("/").text)
    assert '<span class="left">15m 00s</span>' in shown
    assert "data-left" not in shown and "business hours" not in shown


def test_incident_page_shows_business_clocks_in_hours_and_local_due_times(
    client: TestClient, clock: FakeClock, p3: int
) -> None:
    saturday_evening(client, clock)
    html = client.get(f"/incidents/{p3}").text
    clocks = html[html.index('<table class="clocks">') :]
    assert "Target 48h" in clocks and "Target 8h" in clocks
    assert "Mon 2026-03-09 17:00" in clocks and "Mon 2026-03-16 17:00" in clocks
    assert '<div class="small muted">Asia/Shanghai</div>' in clocks
    assert '<span class="left">47h 00m</span>' in clocks


def test_incident_page_speaks_business_time_in_chinese(
    client: TestClient, clock: FakeClock, p3: int
) -> None:
    client.cookies.set("tocsin_lang", "zh-CN")
    saturday_evening(client, clock)
    html = client.get(f"/incidents/{p3}").text
    assert "周一 2026-03-09 17:00" in html
    assert "7小时 00分" in html and "当前不计时" in html
