"""The board tells operators when a calendar counts a year without confirmed holiday data."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.bridge.helpers import FakeClock
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import sign_in


def test_board_has_no_notice_while_the_years_data_is_confirmed(client: TestClient) -> None:
    assert "calendar-missing" not in client.get("/").text


def test_board_shows_a_notice_for_a_year_without_holiday_data(
    anonymous: TestClient, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 6, 8, tzinfo=UTC)
    sign_in(anonymous)
    english = anonymous.get("/").text
    assert "Calendar business: no confirmed holiday data for 2027" in english
    chinese = anonymous.get("/", headers={"Accept-Language": "zh-CN"}).text
    assert "日历 business：没有 2027 年已确认的节假日数据" in chinese
