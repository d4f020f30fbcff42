"""A burst far above capacity against a real bridge: quick answers, 503s, nothing stored twice."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.bridge.burst import burst, rss_mib, stored_instances
from tests.bridge.server import BridgeProcess

pytestmark = pytest.mark.slow
# Small bounds so that a few seconds of 12 senders are far past them on any machine; batches
# of 20 alerts merge in the shared commit on both databases, so its queue is what bounds them.
LIMITS = {
    "max_ingest_requests": 6,
    "max_queued_alerts": 60,
    "queue_timeout": "250ms",
    "request_timeout": "600ms",
}


def test_a_burst_far_above_capacity_gets_quick_answers_and_each_acked_alert_once(
    tmp_path: Path, database_url: str
) -> None:
    bridge = BridgeProcess(tmp_path, database_url, limits=LIMITS)
    bridge.start()
    try:
        assert bridge.proc is not None
        burst(bridge.url, senders=4, batch=50, seconds=1.0, prefix="warm")
        before = rss_mib(bridge.proc.pid)
        answers = burst(bridge.url, senders=12, batch=20, seconds=3.0, client_timeout=5.0)
        after = rss_mib(bridge.proc.pid)
        exposition = requests.get(f"{bridge.url}/metrics", timeout=5).text
    finally:
        bridge.stop()
    assert answers.unanswered == 0
    assert set(answers.statuses) <= {200, 503} and answers.statuses[503] > 0
    assert answers.statuses[200] > 0 and answers.missing_retry_after == 0
    # Bounded by request_timeout (0.6 s) plus what a loaded machine adds; the 1 s target under
    # the 30 s burst at ten times capacity is bench/bridge_load.py's figure, not a test's.
    assert answers.slowest() < 3.0, f"slowest answer {answers.slowest():.3f}s"
    stored = stored_instances(database_url)
    assert all(stored[name] == 1 for name in answers.acked)
    assert set(stored.values()) == {1}
    # Bounded work in hand: memory does not follow the offered load.
    assert after - before < 40, f"RSS {before:.0f} -> {after:.0f} MiB"
    assert 'tocsin_bridge_ingest_shed_total{reason="in_flight"}' in exposition
    assert 'tocsin_bridge_ingest_queue_depth{unit="alerts"}' in exposition
    assert "tocsin_bridge_ingest_queue_wait_seconds_count" in exposition


def test_a_sender_refused_for_load_gets_503_before_its_body_is_read(
    tmp_path: Path, sqlite_url: str
) -> None:
    bridge = BridgeProcess(tmp_path, sqlite_url, limits={"max_ingest_requests": 1})
    bridge.start()
    try:
        import socket

        # One request holds the only place: its headers promise a body that never comes.
        holder = socket.create_connection(("127.0.0.1", bridge.port))
        holder.sendall(
            b"POST /api/v2/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ingest-secret\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n["
        )
        time.sleep(0.2)
        started = time.perf_counter()
        response = requests.post(
            f"{bridge.url}/api/v2/alerts",
            json=[{"labels": {"alertname": "Refused"}}],
            headers={"Authorization": "Bearer ingest-secret"},
            timeout=5,
        )
        took = time.perf_counter() - started
        holder.close()
    finally:
        bridge.stop()
    assert response.status_code == 503 and response.headers["Retry-After"] == "2"
    assert "max_ingest_requests" in response.json()["error"]
    assert took < 0.5
    assert stored_instances(sqlite_url) == {}
