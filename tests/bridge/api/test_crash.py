"""kill -9 of the server while a retrying sender streams alerts: every 2xx alert is stored once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import requests
from sqlalchemy import create_engine, select

from tests.bridge.helpers import INGEST, bearer
from tests.bridge.server import BridgeProcess
from tocsin.bridge.store.schema import alerts

COUNT = 60


def send_all(url: str, acked: list[int], stop: threading.Event) -> None:
    """Post alerts one by one, retrying each on any failure until it gets a 2xx (like Alertmanager)."""
    session = requests.Session()
    for seq in range(COUNT):
        body = [{"labels": {"alertname": "Crash", "seq": str(seq)}}]
        while not stop.is_set():
            try:
                response = session.post(
                    f"{url}/api/v2/alerts", json=body, headers=bearer(INGEST), timeout=5
                )
                if response.status_code == 200:
                    acked.append(seq)
                    break
            except requests.RequestException:
                session = requests.Session()
            time.sleep(0.02)


def test_alerts_acknowledged_before_a_crash_are_stored_exactly_once(
    tmp_path: Path, database_url: str
) -> None:
    bridge = BridgeProcess(tmp_path, database_url)
    bridge.start()
    acked: list[int] = []
    stop = threading.Event()
    sender = threading.Thread(target=send_all, args=(bridge.url, acked, stop), daemon=True)
    sender.start()
    try:
        deadline = time.monotonic() + 30
        while len(acked) < COUNT // 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        bridge.kill()
        crashed_at = len(acked)
        bridge.start()
        sender.join(timeout=60)
    finally:
        stop.set()
        bridge.stop()
    assert crashed_at < COUNT
    assert sorted(acked) == list(range(COUNT))
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = Counter(
            labels["seq"] for labels in conn.execute(select(alerts.c.labels)).scalars()
        )
    engine.dispose()
    assert stored == Counter(str(seq) for seq in range(COUNT))
