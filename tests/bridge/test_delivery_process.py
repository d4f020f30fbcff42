"""`notify.deliver_from: process`: a process of its own delivers, the serving process none.

A real bridge on SQLite and PostgreSQL pages a local receiver through its delivery process,
shows that process's counters on /metrics (worker="delivery", valid for promtool), and stops
with a non-zero exit when the delivery process is killed. The wake-up pipe and the metrics
snapshot are checked in-process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.bridge.helpers import INGEST, bearer
from tests.bridge.server import BridgeProcess
from tests.peers import require_binary
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.server.delivery import DeliveryLink

POLICY = """
priorities: {{P1: {{name: emergency, response: 15m}}}}
routes: [{{priority: P1, escalation: page}}]
channels: {{hook: {{type: webhook, url: "http://127.0.0.1:{port}/hook"}}}}
escalation_policies: {{page: [{{after: 0m, notify: [channel:hook]}}]}}
"""
DELIVERED = "tocsin_bridge_notifications_total"


class _Pages(BaseHTTPRequestHandler):
    """A webhook receiver: note the pid of the bridge process that sent each page."""

    received: list[bytes]

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[bytes]]]:
    received: list[bytes] = []
    handler = type("Pages", (_Pages,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], received
    finally:
        server.shutdown()
        server.server_close()


def _until(condition: object, what: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, f"{what} not within {seconds:.0f} s"
        time.sleep(0.05)


def _delivered(text: str) -> float:
    """Return the delivery process's delivered webhook pages as /metrics shows them."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if (sample.name, labels.get("worker"), labels.get("result")) == (
                DELIVERED,
                "delivery",
                "delivered",
            ):
                return float(sample.value)
    return 0.0


def test_the_delivery_process_pages_shows_its_metrics_and_its_death_stops_the_bridge(
    tmp_path: Path, database_url: str, receiver: tuple[int, list[bytes]]
) -> None:
    port, received = receiver
    (tmp_path / "policy.yml").write_text(POLICY.format(port=port))
    bridge = BridgeProcess(
        tmp_path,
        database_url,
        workers=1,
        notify={"deliver_from": "process"},
        log_level="info",  # the delivery process names itself at start
        policy=str(tmp_path / "policy.yml"),
    )
    bridge.start(timeout=60)
    try:
        _until(lambda: "delivery process (pid" in bridge.log_path.read_text(), "delivery start")
        log = bridge.log_path.read_text()
        delivery_pid = int(re.findall(r"delivery process \(pid (\d+)", log)[0])
        assert "worker process 1/1" in log
        alert = {"labels": {"alertname": "DiskFull", "instance": "db1", "severity": "critical"}}
        sent = requests.post(
            f"{bridge.url}/api/v2/alerts", json=[alert], headers=bearer(INGEST), timeout=30
        )
        assert sent.status_code == 200, sent.text
        _until(lambda: len(received) == 1, "the page")
        assert b"DiskFull" in received[0]
        bodies = []

        def scraped() -> bool:
            response = requests.get(
                f"{bridge.url}/metrics", headers={"Connection": "close"}, timeout=30
            )
            assert response.status_code == 200
            bodies.append(response.text)
            return _delivered(response.text) == 1.0

        _until(scraped, "the delivery process's counter on /metrics")
        for _ in range(3):  # more scrapes: the snapshot is read whole, never half-written
            scraped()
        body = bodies[-1]
        assert body.count(f"# TYPE {DELIVERED} counter") == 1  # one family, both processes
        assert 'worker="1"' in body
        promtool = require_binary("promtool")
        linted = subprocess.run(
            [promtool, "check", "metrics"], input=body, capture_output=True, text=True, timeout=60
        )
        assert linted.returncode == 0, linted.stdout + linted.stderr
        assert bridge.proc is not None
        children = psutil.Process(bridge.proc.pid).children()
        assert delivery_pid in {child.pid for child in children}
        os.kill(delivery_pid, signal.SIGKILL)
        assert bridge.proc.wait(timeout=60) != 0  # so systemd's Restart=on-failure restarts it
        _gone, alive = psutil.wait_procs(children, timeout=30)
        assert alive == []
        assert "delivery process (pid" in bridge.log_path.read_text().split("exited with")[0]
    finally:
        bridge.stop()


def test_an_announcement_wakes_the_delivery_process() -> None:
    link = DeliveryLink()
    woken = threading.Event()
    try:
        link.watch(woken.set)
        for _ in range(100_000):  # more than the pipe holds: announcing never blocks
            link.announce()
        assert woken.wait(timeout=30)
    finally:
        link.close()
    assert not link.directory.exists()


def test_the_delivery_snapshot_merges_into_the_serving_exposition(tmp_path: Path) -> None:
    delivery = Metrics()
    delivery.worker = "delivery"
    delivery.alerts_received.labels(route="v2").inc(3)
    delivery.ingest_in_flight.set(5)  # a gauge: the serving process reads its own
    snapshot = tmp_path / "delivery.json"
    serving = Metrics()
    serving.worker = "1"
    serving.merge(snapshot)
    assert "delivery" not in serving.exposition().decode()  # nothing written yet
    delivery.snapshot(snapshot)
    serving.alerts_received.labels(route="v2").inc()
    text = serving.exposition().decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    received = {
        sample.labels["worker"]: sample.value
        for sample in families["tocsin_bridge_alerts_received"].samples
        if sample.name.endswith("_total")
    }
    assert received == {"1": 1.0, "delivery": 3.0}
    assert text.count("# HELP tocsin_bridge_alerts_received_total") == 1
    in_flight = families["tocsin_bridge_ingest_in_flight"].samples
    assert [sample.labels["worker"] for sample in in_flight] == ["1"]
