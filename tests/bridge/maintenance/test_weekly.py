"""Weekly windows through the API: stored, evaluated as the policy's are, across DST changes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.bridge.helpers import INGEST, OPERATOR, bearer
from tests.bridge.ingest.senders import Bridge, Message, bridge_on
from tests.bridge.maintenance.test_hold import count, fire_due
from tocsin.bridge.ingest.identity import fingerprint
from tocsin.bridge.maintenance.store import policy_windows, stored_window, weekly_rows
from tocsin.bridge.policy import parse_policy
from tocsin.bridge.store.schema import alerts, events

DB1 = {"alertname": "HostDown", "instance": "db1", "severity": "critical"}
EARLY = {"alertname": "DiskSlow", "instance": "db1", "severity": "critical"}
LATE = {"alertname": "LoadHigh", "instance": "db1", "severity": "critical"}
NEW_YORK_SUNDAY = {
    "matchers": ["instance=db1"],
    "reason": "weekly patching",
    "days": ["sun"],
    "start": "01:00",
    "duration": "4h",
    "timezone": "America/New_York",
}


@pytest.fixture
def bridge(database_url: str) -> Iterator[Bridge]:
    with bridge_on(database_url) as built:
        yield built


def at(bridge: Bridge, *when: int) -> None:
    moment = datetime(*when, tzinfo=UTC)  # type: ignore[misc]
    assert moment >= bridge.clock(), "the fake clock only moves forward"
    bridge.clock.now = moment


def create(bridge: Bridge, **body: Any) -> dict[str, Any]:
    response = bridge.client.post(
        "/api/v1/maintenance", json=NEW_YORK_SUNDAY | body, headers=bearer(OPERATOR)
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def pages_of(bridge: Bridge, labels: dict[str, str]) -> int:
    """Count the pages of the incidents holding this alert."""
    holding = select(alerts.c.incident_id).where(alerts.c.fingerprint == fingerprint(labels))
    query = (
        select(func.count())
        .select_from(events)
        .where(events.c.kind == "incident.escalated", events.c.incident_id.in_(holding))
    )
    return count(bridge, query)


def held(bridge: Bridge, labels: dict[str, str]) -> bool:
    answer = bridge.send("v2", [Message(labels, bridge.clock())])
    return answer["not_stored"] == [{"index": 0, "outcome": "maintenance"}]


def test_a_weekly_window_holds_inside_its_occurrence_across_spring_forward(
    bridge: Bridge,
) -> None:
    at(bridge, 2026, 3, 7, 12, 0)  # Saturday; clocks spring forward Sunday 02:00 in New York
    window = create(bridge)
    # 01:00 EST is 06:00Z; 05:00 is EDT that day, 09:00Z: three hours, not four.
    assert (window["status"], window["next_start"]) == ("upcoming", "2026-03-08T06:00:00Z")
    assert (window["every"], window["source"], window["created_by"]) == (
        "sun 01:00-05:00 America/New_York",
        "api",
        "alice",
    )
    at(bridge, 2026, 3, 8, 5, 50)  # 00:50 EST: before
    assert not held(bridge, EARLY)
    at(bridge, 2026, 3, 8, 8, 30)  # 04:30 EDT: inside
    start = bridge.clock()
    assert held(bridge, DB1)
    assert pages_of(bridge, EARLY) >= 1 and pages_of(bridge, DB1) == 0
    listed = bridge.client.get("/api/v1/maintenance", headers=bearer(OPERATOR)).json()
    (shown,) = listed["weekly"]
    assert (shown["status"], shown["ends_at"]) == ("active", "2026-03-08T09:00:00Z")
    at(bridge, 2026, 3, 8, 8, 59)
    bridge.send("v2", [Message(DB1, start)])  # still firing
    at(bridge, 2026, 3, 8, 9, 0, 1)  # 05:00:01 EDT: the occurrence is over
    fire_due(bridge)
    assert bridge.open_incidents(DB1) == 1
    assert pages_of(bridge, DB1) == 1
    assert not held(bridge, LATE)  # 05:30 EDT would still be 04:30 on a fixed EST offset
    trail = bridge.client.get(f"/api/v1/maintenance/{window['id']}", headers=bearer(OPERATOR))
    assert [h["status"] for h in trail.json()["held"]] == ["released"]


def test_on_the_fall_back_sunday_an_occurrence_is_an_hour_longer(bridge: Bridge) -> None:
    at(bridge, 2026, 10, 31, 12, 0)
    create(bridge, start="00:30", duration=None, end="03:00")
    at(bridge, 2026, 11, 1, 7, 30)  # 02:30 EST, after 01:00-02:00 ran twice
    assert held(bridge, DB1)
    (shown,) = bridge.client.get("/api/v1/maintenance", headers=bearer(OPERATOR)).json()["weekly"]
    assert shown["ends_at"] == "2026-11-01T08:00:00Z"  # 03:00 EST, 3.5 h after 00:30 EDT
    at(bridge, 2026, 11, 1, 8, 0, 1)
    assert not held(bridge, LATE)


def test_an_ended_weekly_window_releases_what_it_held_and_opens_no_more(bridge: Bridge) -> None:
    at(bridge, 2026, 3, 8, 6, 30)  # inside 01:00-05:00 EST/EDT
    window = create(bridge)
    assert window["status"] == "active"
    assert held(bridge, DB1)
    response = bridge.client.delete(f"/api/v1/maintenance/{window['id']}", headers=bearer(OPERATOR))
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["released"]) == ("ended", 1)
    assert [a["action"] for a in response.json()["audit"]] == ["created", "ended"]
    assert {a["actor"] for a in response.json()["audit"]} == {"alice"}
    assert bridge.open_incidents(DB1) == 1
    at(bridge, 2026, 3, 15, 6, 30)  # the next Sunday
    assert not held(bridge, LATE)
    listed = bridge.client.get("/api/v1/maintenance", headers=bearer(OPERATOR)).json()
    assert listed["weekly"] == [] and listed["windows"] == []
    extend = bridge.client.patch(
        f"/api/v1/maintenance/{window['id']}", json={"duration": "1h"}, headers=bearer(OPERATOR)
    )
    assert extend.status_code == 409


BAD = [
    ({"days": ["someday"]}, "days"),
    ({"days": []}, "days"),
    ({"timezone": "Mars/Base"}, "timezone"),
    ({"start": "25:00"}, "start"),
    ({"duration": "0m"}, "duration"),
    ({"duration": "-1h"}, "duration"),
    ({"duration": "24h"}, "duration"),
    ({"duration": "30s"}, "duration"),
    ({"duration": None, "end": "01:00"}, "end"),
    ({"duration": None}, "duration"),
    ({"until": "2020-01-01"}, "until"),
    ({"until": "someday"}, "until"),
    ({"matchers": ["instance"]}, "matchers"),
    ({"reason": " "}, "reason"),
    ({"start": None}, "start"),
    ({"ends_at": "2027-01-01T00:00:00Z"}, "ends_at"),
    ({"days": None, "start": None, "timezone": "UTC"}, "timezone"),
]


def test_bad_weekly_windows_are_refused_naming_the_field(sqlite_url: str) -> None:
    with bridge_on(sqlite_url) as bridge:  # refused before the store: one engine suffices
        for change, field in BAD:
            body = {k: v for k, v in (NEW_YORK_SUNDAY | change).items() if v is not None}
            response = bridge.client.post(
                "/api/v1/maintenance", json=body, headers=bearer(OPERATOR)
            )
            assert response.status_code in (400, 422), (change, response.text)
            assert response.json()["field"] == field, (change, response.text)
        listed = bridge.client.get("/api/v1/maintenance", headers=bearer(OPERATOR))
        assert listed.json() == {"windows": [], "weekly": []}
        agent = bridge.client.post(
            "/api/v1/maintenance", json=NEW_YORK_SUNDAY, headers=bearer(INGEST)
        )
        assert agent.status_code == 403, agent.text


def test_a_stored_weekly_window_opens_exactly_as_the_same_policy_window(sqlite_url: str) -> None:
    policy = parse_policy(
        "priorities: {P1: {response: 15m}}\nroutes: [{priority: P1}]\nmaintenance:\n"
        "  patch: {match: [instance=db1], days: [sun], hours: '01:00-05:00',"
        " timezone: America/New_York}\n",
        "policy.yml",
    )
    (from_policy,) = policy_windows(policy)
    with bridge_on(sqlite_url) as bridge:
        create(bridge)
        with bridge.runtime.store.connect() as conn:
            (row,) = weekly_rows(conn, bridge.clock())
    stored = stored_window(row)
    for day in (1, 8, 15):  # before, on and after the spring-forward Sunday
        for minute in range(0, 12 * 60, 15):
            now = datetime(2026, 3, day, 4, tzinfo=UTC) + timedelta(minutes=minute)
            assert stored.open_span(now) == from_policy.open_span(now), now
    for day in (1, 8):  # fall back
        now = datetime(2026, 11, day, 7, tzinfo=UTC)
        assert stored.open_span(now) == from_policy.open_span(now) is not None
