"""Alerts a maintenance window covers page nobody, stay visible, and page when it ends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.bridge.helpers import INGEST, OPERATOR, bearer
from tests.bridge.ingest.senders import ROUTES, Bridge, Message, bridge_on
from tocsin.bridge.store.schema import events, incidents, timers
from tocsin.bridge.timers.rows import pending_clause
from tocsin.bridge.timers.scheduler import Scheduler

DB1 = {"alertname": "HostDown", "instance": "db1", "severity": "critical"}
WEB1 = {"alertname": "HostDown", "instance": "web1", "severity": "critical"}


@pytest.fixture
def bridge(database_url: str) -> Iterator[Bridge]:
    with bridge_on(database_url) as built:
        yield built


def open_window(
    bridge: Bridge, matchers: list[str], duration: str = "30m", token: str = OPERATOR
) -> dict[str, object]:
    response = bridge.client.post(
        "/api/v1/maintenance",
        json={"matchers": matchers, "duration": duration, "reason": "kernel update"},
        headers=bearer(token),
    )
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def count(bridge: Bridge, query: object) -> int:
    with bridge.runtime.store.connect() as conn:
        return int(conn.execute(query).scalar_one())  # type: ignore[call-overload]


def pages(bridge: Bridge) -> int:
    return count(
        bridge,
        select(func.count()).select_from(events).where(events.c.kind == "incident.escalated"),
    )


def fire_due(bridge: Bridge) -> None:
    """Fire every due timer, and wait for one the app's own scheduler thread may have claimed."""
    scheduler = next(w for w in bridge.runtime.workers if isinstance(w, Scheduler))
    due = (
        select(func.count())
        .select_from(timers)
        .where(*pending_clause(), timers.c.due_at <= bridge.clock())
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        scheduler.run_once()
        if count(bridge, due) == 0:
            return
        time.sleep(0.05)
    raise AssertionError("due timers still pending after 10 s")


@pytest.mark.parametrize("route", ROUTES)
def test_a_covered_alert_pages_nobody_and_is_shown_held(bridge: Bridge, route: str) -> None:
    window = open_window(bridge, ["instance=db1"])
    answer = bridge.send(route, [Message(DB1, bridge.clock())])
    assert answer["not_stored"] == [{"index": 0, "outcome": "maintenance"}]
    assert answer["opened"] == 0 and answer["ignored"] == 0
    assert count(bridge, select(func.count()).select_from(incidents)) == 0
    assert pages(bridge) == 0
    shown = bridge.client.get(
        f"/api/v1/maintenance/{window['id']}", headers=bearer(OPERATOR)
    ).json()
    assert [(h["alertname"], h["status"]) for h in shown["held"]] == [("HostDown", "firing")]
    bridge.send(route, [Message(WEB1, bridge.clock())])
    assert count(bridge, select(func.count()).select_from(incidents)) == 1  # not covered: opens


@pytest.mark.parametrize("route", ROUTES)
def test_an_alert_still_firing_when_the_window_ends_opens_and_pages(
    bridge: Bridge, route: str
) -> None:
    window = open_window(bridge, ["instance=db1"], "10m")
    start = bridge.clock()
    bridge.send(route, [Message(DB1, start)])
    bridge.clock.advance(5 * 60)
    bridge.send(route, [Message(DB1, start)])  # resent while still firing
    bridge.clock.advance(5 * 60 + 1)
    fire_due(bridge)
    assert bridge.open_incidents(DB1) == 1
    assert pages(bridge) >= 1
    shown = bridge.client.get(
        f"/api/v1/maintenance/{window['id']}", headers=bearer(OPERATOR)
    ).json()
    (held,) = shown["held"]
    assert held["status"] == "released" and held["incident_id"] is not None


@pytest.mark.parametrize("route", ROUTES)
def test_an_alert_resolved_inside_the_window_never_opens(bridge: Bridge, route: str) -> None:
    open_window(bridge, ["instance=db1"], "10m")
    start = bridge.clock()
    bridge.send(route, [Message(DB1, start)])
    bridge.clock.advance(60)
    bridge.send(route, [Message(DB1, start, ends=bridge.clock())])
    bridge.clock.advance(10 * 60)
    fire_due(bridge)
    assert count(bridge, select(func.count()).select_from(incidents)) == 0


def test_an_alert_whose_sender_went_quiet_opens_nothing_at_the_end(bridge: Bridge) -> None:
    open_window(bridge, ["instance=db1"], "1h")
    bridge.send("v2", [Message(DB1, bridge.clock())])  # endsAt now + 4m, never resent
    bridge.clock.advance(3600 + 1)
    fire_due(bridge)
    assert count(bridge, select(func.count()).select_from(incidents)) == 0


def test_ending_a_window_early_releases_what_still_fires(bridge: Bridge) -> None:
    window = open_window(bridge, ["instance=~db.*"], "2h")
    bridge.send("webhook", [Message(DB1, bridge.clock())])
    bridge.clock.advance(60)
    response = bridge.client.delete(f"/api/v1/maintenance/{window['id']}", headers=bearer(OPERATOR))
    assert response.status_code == 200, response.text
    assert response.json()["released"] == 1 and response.json()["status"] == "ended"
    assert bridge.open_incidents(DB1) == 1
    audit = [a["action"] for a in response.json()["audit"]]
    assert audit == ["created", "ended"]
    assert {a["actor"] for a in response.json()["audit"]} == {"alice"}


def test_an_extended_window_keeps_holding(bridge: Bridge) -> None:
    window = open_window(bridge, ["instance=db1"], "10m")
    start = bridge.clock()
    bridge.send("webhook", [Message(DB1, start)])
    response = bridge.client.patch(
        f"/api/v1/maintenance/{window['id']}", json={"duration": "1h"}, headers=bearer(OPERATOR)
    )
    assert response.status_code == 200, response.text
    bridge.clock.advance(11 * 60)
    fire_due(bridge)
    assert count(bridge, select(func.count()).select_from(incidents)) == 0
    bridge.clock.advance(50 * 60)
    bridge.send("webhook", [Message(DB1, start)])
    fire_due(bridge)
    assert bridge.open_incidents(DB1) == 1


def test_an_agent_may_open_a_short_window_for_one_host_only(bridge: Bridge) -> None:
    shown = open_window(bridge, ["instance=db1"], "30m", token=INGEST)
    assert shown["source"] == "agent" and shown["created_by"] == "sender"
    for matchers, duration in (
        (["instance=~db.*"], "30m"),
        (["team=db"], "30m"),
        (["instance=db1"], "5h"),
    ):
        response = bridge.client.post(
            "/api/v1/maintenance",
            json={"matchers": matchers, "duration": duration, "reason": "x"},
            headers=bearer(INGEST),
        )
        assert response.status_code == 403, (matchers, duration)
    listed = bridge.client.get("/api/v1/maintenance", headers=bearer(INGEST))
    assert listed.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"matchers": [], "duration": "1h", "reason": "x"}, "matchers"),
        ({"matchers": ["instance"], "duration": "1h", "reason": "x"}, "matchers"),
        ({"matchers": ["instance=db1"], "duration": "soon", "reason": "x"}, "duration"),
        ({"matchers": ["instance=db1"], "reason": "x"}, "duration"),
        ({"matchers": ["instance=db1"], "duration": "40d", "reason": "x"}, "ends_at"),
        ({"matchers": ["instance=db1"], "duration": "1h", "reason": ""}, "reason"),
        (
            {"matchers": ["instance=db1"], "ends_at": "2020-01-01T00:00:00Z", "reason": "x"},
            "ends_at",
        ),
    ],
)
def test_bad_windows_are_refused_naming_the_field(
    bridge: Bridge, body: dict[str, object], field: str
) -> None:
    response = bridge.client.post("/api/v1/maintenance", json=body, headers=bearer(OPERATOR))
    assert response.status_code in (400, 422), response.text
    assert field in response.text


def test_the_gauges_count_open_windows_and_held_alerts(bridge: Bridge) -> None:
    open_window(bridge, ["instance=db1"])
    bridge.send("v2", [Message(DB1, bridge.clock())])
    text = bridge.client.get("/metrics").text
    assert "tocsin_bridge_maintenance_windows_active 1.0" in text
    assert "tocsin_bridge_maintenance_alerts_suppressed_total 1.0" in text
    bridge.clock.advance(timedelta(hours=1).total_seconds())
    assert "tocsin_bridge_maintenance_windows_active 0.0" in bridge.client.get("/metrics").text
