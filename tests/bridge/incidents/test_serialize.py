from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.bridge.helpers import OPERATOR, FakeClock, bearer
from tests.bridge.testclient import TestClient
from tocsin.bridge.incidents.serialize import incident_json
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app

FRIDAY_5PM = datetime(2026, 3, 6, 9, tzinfo=UTC)  # Shanghai, the bundled business calendar
HOUR = 3600.0


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(FRIDAY_5PM)


def response(runtime: Runtime, incident: int, clock: str = "response") -> dict:
    with runtime.store.connect() as conn:
        body = incident_json(conn, incident, runtime.clock(), calendars=runtime.policy.calendars)
    return dict(body["sla"][clock])


def test_business_clock_counts_business_seconds_left_over_a_weekend(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident = runtime.incidents.create(title="printer", priority="P3", actor="desk")
    clock.now = datetime(2026, 3, 7, 4, tzinfo=UTC)  # Saturday noon
    shown = response(runtime, incident)
    assert (shown["remaining_seconds"], shown["due_at"]) == (7 * HOUR, "2026-03-09T09:00:00Z")


def test_around_the_clock_clock_counts_wall_seconds(runtime: Runtime, clock: FakeClock) -> None:
    incident = runtime.incidents.create(title="db down", priority="P1", actor="desk")
    clock.advance(600)
    assert response(runtime, incident)["remaining_seconds"] == 300.0


def test_overdue_business_clock_paused_over_a_weekend_stays_overdue_by_business_time(
    runtime: Runtime, clock: FakeClock
) -> None:
    # Thursday 09:00: 48 business hours (8 a day) are due six working days on, Thursday 18:00.
    clock.now = datetime(2026, 3, 5, 1, tzinfo=UTC)
    incident = runtime.incidents.create(title="printer", priority="P3", actor="desk")
    runtime.incidents.act(incident, "ack", actor="ann")
    clock.now = datetime(2026, 3, 13, 2, tzinfo=UTC)  # Friday 10:00: one business hour late
    runtime.incidents.act(incident, "pause", actor="ann", reason="waiting on customer")
    clock.now = datetime(2026, 3, 16, 1, tzinfo=UTC)  # Monday 09:00
    runtime.incidents.act(incident, "resume", actor="ann")
    shown = response(runtime, incident, "resolution")
    assert (shown["remaining_seconds"], shown["breached"]) == (-HOUR, True)
    assert shown["due_at"] == "2026-03-13T09:00:00Z"  # Friday 17:00, an hour of business before


def test_the_api_shows_business_seconds_left(runtime: Runtime, clock: FakeClock) -> None:
    incident = runtime.incidents.create(title="printer", priority="P3", actor="desk")
    clock.now = datetime(2026, 3, 8, 4, tzinfo=UTC)  # Sunday noon
    with TestClient(create_app(runtime, start_workers=False)) as client:
        one = client.get(f"/api/v1/incidents/{incident}", headers=bearer(OPERATOR)).json()
        listed = client.get("/api/v1/incidents", headers=bearer(OPERATOR)).json()
    assert one["sla"]["response"]["remaining_seconds"] == 7 * HOUR
    assert listed["incidents"][0]["sla"]["response"]["remaining_seconds"] == 7 * HOUR
