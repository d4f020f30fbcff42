"""The board and the incident page say when paging of a P3 resumes outside business hours."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.bridge.helpers import FakeClock
from tests.bridge.testclient import TestClient
from tests.bridge.web.conftest import sign_in
from tocsin.bridge.runtime import Runtime

SUNDAY_NIGHT = datetime(2026, 3, 8, 14, tzinfo=UTC)  # 22:00 in Shanghai
RESUMES = "paging resumes Mon 2026-03-09 09:00 Asia/Shanghai"


def open_p3(runtime: Runtime) -> int:
    return runtime.incidents.create(
        title="how do I", priority="P3", actor="desk", escalation_policy="ops"
    )


def test_board_and_incident_page_say_when_paging_resumes(
    anonymous: TestClient, clock: FakeClock, runtime: Runtime
) -> None:
    clock.now = SUNDAY_NIGHT
    sign_in(anonymous)
    incident = open_p3(runtime)
    assert RESUMES in anonymous.get("/").text
    assert RESUMES in anonymous.get(f"/incidents/{incident}").text
    chinese = anonymous.get("/", headers={"Accept-Language": "zh-CN"}).text
    assert "非通知时段：将于" in chinese


def test_no_notice_in_business_hours(client: TestClient, runtime: Runtime) -> None:
    incident = open_p3(runtime)  # the fixtures' clock is Monday 17:00 in Shanghai
    assert "paging-resumes" not in client.get("/").text
    assert "paging-resumes" not in client.get(f"/incidents/{incident}").text
