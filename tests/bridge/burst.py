"""A burst of senders far above what a bridge stores: who was answered what, how fast.

Shared by tests/bridge/api/test_overload.py (a few seconds) and bench/bridge_load.py
(30 s). Each sender posts batches of new alerts (each with its own `instance`) on one
keep-alive connection, never retrying, and records every answer; a request that gets no
answer within the client timeout counts as unanswered.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psutil
from sqlalchemy import create_engine, select

from tests.bridge.helpers import INGEST, bearer
from tocsin.bridge.store.schema import alerts


@dataclass
class Answers:
    """Every answer of a burst: statuses, latencies, and the alerts acknowledged with a 2xx."""

    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    acked: list[str] = field(default_factory=list)
    unanswered: int = 0
    missing_retry_after: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def slowest(self) -> float:
        return max(self.latencies, default=0.0)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def burst(
    url: str,
    *,
    senders: int,
    batch: int,
    seconds: float,
    client_timeout: float = 10.0,
    prefix: str = "burst",
) -> Answers:
    """Run `senders` threads posting `batch`-alert requests for `seconds`; return the answers."""
    answers = Answers()
    stop = time.monotonic() + seconds
    host, port = url.removeprefix("http://").split(":")
    headers = {**bearer(INGEST), "Content-Type": "application/json"}

    def send(sender: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=client_timeout)
        seq = 0
        while time.monotonic() < stop:
            names = [f"{prefix}-{sender}-{seq}-{n}" for n in range(batch)]
            seq += 1
            body = json.dumps(
                [{"labels": {"alertname": "Burst", "instance": name}} for name in names]
            )
            started = time.perf_counter()
            try:
                conn.request("POST", "/api/v2/alerts", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                with answers.lock:
                    answers.unanswered += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=client_timeout)
                continue
            took = time.perf_counter() - started
            with answers.lock:
                answers.statuses[response.status] += 1
                answers.latencies.append(took)
                if response.status == 200:
                    answers.acked.extend(names)
                elif response.status == 503 and not response.getheader("Retry-After"):
                    answers.missing_retry_after += 1
            if response.status == 503:
                time.sleep(0.05)  # a little back-off, as a sender would; far under Retry-After
        conn.close()

    threads = [threading.Thread(target=send, args=(n,)) for n in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + client_timeout + 5)
    return answers


def stored_instances(database_url: str) -> Counter[str]:
    """Return how many alert rows each `instance` label has."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(alerts.c.labels)).scalars()
            return Counter(str(labels.get("instance")) for labels in rows)
    finally:
        engine.dispose()


def rss_mib(pid: int) -> float:
    """Return a process's resident memory in MiB."""
    return psutil.Process(pid).memory_info().rss / 2**20
