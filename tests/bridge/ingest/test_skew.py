"""Issue #13 item 1: a sender's clock up to the tolerance off never drops or resolves a firing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from tests.bridge.helpers import INGEST, bearer
from tests.bridge.helpers import T0 as NOW
from tests.bridge.ingest.senders import Bridge, Message, bridge_on, rfc3339

MINUTE = timedelta(minutes=1)
SKEWS = [-10 * MINUTE, -5 * MINUTE, 5 * MINUTE, 10 * MINUTE]
CLUES = ["header", "date", None]


@pytest.fixture
def bridge(sqlite_url: str) -> Iterator[Bridge]:
    """Reading a sender's clock does not depend on the database: SQLite is enough."""
    with bridge_on(sqlite_url) as built:
        yield built


@pytest.fixture
def any_bridge(database_url: str) -> Iterator[Bridge]:
    with bridge_on(database_url) as built:
        yield built


def skew_id(skew: timedelta) -> str:
    minutes = int(skew / MINUTE)
    return f"{abs(minutes)}m-{'ahead' if minutes > 0 else 'behind'}"


@pytest.mark.parametrize("clue", CLUES, ids=["header", "date", "no-clue"])
@pytest.mark.parametrize("skew", SKEWS, ids=skew_id)
def test_a_new_firing_alert_from_a_skewed_sender_opens_an_incident(
    any_bridge: Bridge, skew: timedelta, clue: str | None
) -> None:
    bridge = any_bridge
    labels = {"alertname": "Skewed", "instance": "db1"}
    result = bridge.send("v2", [Message(labels, NOW + skew - MINUTE)], skew=skew, clue=clue)
    assert (result["opened"], result["not_stored"]) == (1, [])
    assert bridge.state(labels) == ("firing", NOW + skew - MINUTE, "triggered")


@pytest.mark.parametrize("clue", CLUES, ids=["header", "date", "no-clue"])
@pytest.mark.parametrize("skew", SKEWS, ids=skew_id)
def test_a_resend_from_a_skewed_sender_keeps_the_incident_open(
    bridge: Bridge, skew: timedelta, clue: str | None
) -> None:
    labels = {"alertname": "Skewed", "instance": "db2"}
    firing = Message(labels, NOW + skew - MINUTE)
    bridge.send("v2", [firing], skew=skew, clue=clue)
    bridge.clock.advance(60)
    result = bridge.send("v2", [firing], skew=skew, clue=clue)
    assert result["outcomes"]["refreshed"] == 1  # type: ignore[index]
    assert bridge.state(labels) == ("firing", NOW + skew - MINUTE, "triggered")


@pytest.mark.parametrize("clue", ["header", "date"])
@pytest.mark.parametrize("skew", SKEWS, ids=skew_id)
def test_a_resolve_from_a_skewed_sender_that_tells_its_clock_resolves_at_once(
    bridge: Bridge, skew: timedelta, clue: str
) -> None:
    labels = {"alertname": "Skewed", "instance": "db3"}
    bridge.send("v2", [Message(labels, NOW + skew - MINUTE)], skew=skew, clue=clue)
    result = bridge.send("v2", [Message(labels, NOW + skew - MINUTE, ends=NOW + skew)], skew=skew)
    assert result["resolved"] == 1
    assert bridge.state(labels) == ("resolved", NOW + skew - MINUTE, "resolved")


def test_without_a_clue_a_resolve_is_read_once_it_is_older_than_the_tolerance(
    bridge: Bridge,
) -> None:
    """The cost: a sender that tells no clock gets its resolve recognised up to 10 min late."""
    labels = {"alertname": "Skewed", "instance": "db4"}
    bridge.send("v2", [Message(labels, NOW - MINUTE)], clue=None)
    resolve = Message(labels, NOW - MINUTE, ends=NOW)
    early = bridge.send("v2", [resolve], clue=None)
    bridge.clock.advance(9 * 60)
    still = bridge.send("v2", [resolve], clue=None)  # Prometheus re-sends resolves for 15 min
    bridge.clock.advance(60)
    late = bridge.send("v2", [resolve], clue=None)
    assert [r["outcomes"]["refreshed"] for r in (early, still)] == [1, 1]  # type: ignore[index]
    assert late["resolved"] == 1
    assert bridge.state(labels) == ("resolved", NOW - MINUTE, "resolved")


def test_the_tolerance_is_configurable(bridge: Bridge) -> None:
    bridge.runtime.config = replace(bridge.runtime.config, clock_skew_tolerance=MINUTE)
    labels = {"alertname": "Skewed", "instance": "db5"}
    bridge.send("v2", [Message(labels, NOW - 5 * MINUTE)], clue=None)
    resolve = Message(labels, NOW - 5 * MINUTE, ends=NOW - 2 * MINUTE)
    assert bridge.send("v2", [resolve], clue=None)["resolved"] == 1


@pytest.mark.parametrize("skew", SKEWS, ids=skew_id)
def test_the_webhook_status_decides_whatever_the_peers_clock(
    any_bridge: Bridge, skew: timedelta
) -> None:
    """An Alertmanager up to 10 minutes off: its firing opens, its resolve resolves."""
    bridge = any_bridge
    labels = {"alertname": "Skewed", "instance": "db6"}
    firing = bridge.send("webhook", [Message(labels, NOW + skew - MINUTE)], clue=None)
    resolve = Message(labels, NOW + skew - MINUTE, ends=NOW + skew)
    resolved = bridge.send("webhook", [resolve], clue=None)
    assert (firing["opened"], resolved["resolved"]) == (1, 1)


@pytest.mark.parametrize("skew", SKEWS, ids=skew_id)
def test_each_senders_clock_offset_is_exported(bridge: Bridge, skew: timedelta) -> None:
    bridge.send("v2", [Message({"alertname": "Clock"}, NOW + skew)], skew=skew)
    text = bridge.client.get("/metrics").text
    line = f'tocsin_bridge_sender_clock_skew_seconds{{sender="sender"}} {skew.total_seconds()}'
    assert line in text.splitlines()


@pytest.mark.parametrize("sent", ["yesterday", "9999-12-31T23:59:59.999Z", "2026-13-01T00:00:00Z"])
def test_a_malformed_sender_time_is_refused_naming_the_header(bridge: Bridge, sent: str) -> None:
    headers = {**bearer(INGEST), "X-Tocsin-Sender-Time": sent}
    body = [{"labels": {"alertname": "Clock"}, "startsAt": rfc3339(NOW)}]
    response = bridge.client.post("/api/v2/alerts", json=body, headers=headers)
    assert response.status_code == 422
    assert response.json()["field"] == "X-Tocsin-Sender-Time"


@pytest.mark.parametrize("date", ["not a date", "Fri, 31 Dec 9999 23:59:59 GMT", ""])
def test_a_malformed_date_header_is_no_clue(bridge: Bridge, date: str) -> None:
    headers = {**bearer(INGEST), "Date": date}
    body = [Message({"alertname": "Dated"}, NOW - MINUTE).v2(NOW)]
    response = bridge.client.post("/api/v2/alerts", json=body, headers=headers)
    assert (response.status_code, response.json()["opened"]) == (200, 1)
