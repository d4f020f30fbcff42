"""Every alert's outcome is answered, counted and, for a firing not opened, logged."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.bridge.helpers import INGEST, bearer
from tests.bridge.helpers import T0 as NOW
from tests.bridge.ingest.senders import ROUTES, Bridge, Message, bridge_on, rfc3339

T0 = NOW - timedelta(minutes=30)
T1 = NOW - timedelta(minutes=20)
LABELS = {"alertname": "Outcome", "instance": "db1"}


@pytest.fixture
def bridge(database_url: str) -> Iterator[Bridge]:
    with bridge_on(database_url) as built:
        yield built


def ingest_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Return what ingestion logged; other parts of a loaded bridge may log meanwhile."""
    return [r for r in caplog.records if r.name == "tocsin.bridge.ingest.service"]


def counted(bridge: Bridge, route: str) -> dict[str, float]:
    text = bridge.client.get("/metrics").text
    pattern = rf'^tocsin_bridge_alerts_total\{{outcome="(\w+)",route="{route}"\}} (\S+)$'
    return {m[1]: float(m[2]) for m in re.finditer(pattern, text, flags=re.MULTILINE)}


@pytest.mark.parametrize("route", ROUTES)
def test_each_outcome_is_answered_and_counted(bridge: Bridge, route: str) -> None:
    firing, resolve = Message(LABELS, T0), Message(LABELS, T0, ends=T1)
    answers = [
        bridge.send(route, [resolve]),
        bridge.send(route, [firing, firing]),
        bridge.send(route, [resolve, resolve]),
        bridge.send(route, [firing]),
    ]
    assert [a["not_stored"] for a in answers] == [
        [{"index": 0, "outcome": "unknown_resolve"}],
        [],
        [{"index": 1, "outcome": "duplicate"}],
        [{"index": 0, "outcome": "stale"}],
    ]
    assert [(a["accepted"], a["opened"], a["resolved"], a["ignored"]) for a in answers] == [
        (1, 0, 0, 1),
        (2, 1, 0, 0),
        (2, 0, 1, 0),
        (1, 0, 0, 1),
    ]
    assert counted(bridge, route) == {
        "opened": 1.0,
        "refreshed": 1.0,
        "resolved": 1.0,
        "duplicate": 1.0,
        "stale": 1.0,
        "unknown_resolve": 1.0,
    }


def test_not_stored_alerts_are_named_by_their_index_in_the_request(bridge: Bridge) -> None:
    resolve = Message(LABELS, T0, ends=T1).v2(NOW)
    body = [resolve, {"labels": {"alertname": 5}}, resolve]
    headers = {**bearer(INGEST), "X-Tocsin-Sender-Time": rfc3339(NOW)}
    response = bridge.client.post("/api/v2/alerts", json=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["rejected"][0]["index"] == 1
    assert response.json()["not_stored"] == [
        {"index": 0, "outcome": "unknown_resolve"},
        {"index": 2, "outcome": "unknown_resolve"},
    ]


@pytest.mark.parametrize("route", ROUTES)
def test_a_firing_alert_that_opens_nothing_is_logged_as_a_warning(
    bridge: Bridge, route: str, caplog: pytest.LogCaptureFixture
) -> None:
    bridge.send(route, [Message(LABELS, T0)])
    bridge.send(route, [Message(LABELS, T0, ends=T1)])
    with caplog.at_level(logging.WARNING, logger="tocsin.bridge.ingest.service"):
        bridge.send(route, [Message(LABELS, T0, ends=T1), Message(LABELS, T0)])
    (record,) = ingest_records(caplog)
    assert record.levelno == logging.WARNING
    assert "1 firing alert(s) not opened" in record.getMessage()
    assert "'Outcome'" in record.getMessage() and "stale" in record.getMessage()


def test_a_repeated_resolve_read_as_firing_within_the_tolerance_is_counted_not_warned(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    """Prometheus tells no clock and repeats a resolve whose endsAt is minutes old."""
    bridge.send("v2", [Message(LABELS, T0)], clue=None)
    bridge.send("webhook", [Message(LABELS, T0, ends=NOW - timedelta(minutes=2))])
    repeat = Message(LABELS, T0, ends=NOW - timedelta(minutes=2))
    with caplog.at_level(logging.WARNING, logger="tocsin.bridge.ingest.service"):
        result = bridge.send("v2", [repeat], clue=None)
    assert result["not_stored"] == [{"index": 0, "outcome": "stale"}]
    assert ingest_records(caplog) == []
