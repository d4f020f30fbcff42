"""The bridge's memory under sustained load, SQLite beside PostgreSQL (fsync=on).

100 Alertmanager webhook posts a second of 20 alerts each (19 resends from a fleet of 2,000 and
one new alert) for SUSTAINED_MINUTES (5; issue #24's 15 with TOCSIN_BENCH_FULL=1, or any with
TOCSIN_BENCH_SUSTAINED_MINUTES): RSS every minute, its slope over the second half, and what
the senders got (posts answered 200, 503, otherwise or not at all; p99 and slowest answer).
Target (#24): RSS levels off (a slope near zero) on both databases.
TOCSIN_BENCH_DB=sqlite or postgresql runs one database only.

Run alone: `python -m bench bridge_sustained` (`TOCSIN_BENCH_FULL=1` for 15 minutes).
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections import Counter
from pathlib import Path

from bench.bridge_load import load, on_each_database
from tests.bridge.burst import rss_mib
from tests.bridge.helpers import INGEST, bearer
from tests.bridge.server import running_bridge

FULL = os.environ.get("TOCSIN_BENCH_FULL", "") == "1"  # the issue's own duration
SUSTAINED_MINUTES = float(os.environ.get("TOCSIN_BENCH_SUSTAINED_MINUTES", "15" if FULL else "5"))
RATE = 100.0  # webhook posts a second
SENDERS = 4
FLEET = 2000


def _webhook(alerts: list[dict[str, object]]) -> bytes:
    return json.dumps(
        {"version": "4", "status": "firing", "receiver": "tocsin", "alerts": alerts}
    ).encode()


class Senders:
    """SENDERS threads posting at RATE in all until `stop`; every answer's status and time."""

    def __init__(self, url: str, stop: float) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.stop = stop
        self.statuses: Counter[int] = Counter()  # 0: no answer within 10 s
        self.latencies: list[float] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._send, args=(s,)) for s in range(SENDERS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)

    def _send(self, sender: int) -> None:
        headers = {**bearer(INGEST), "Content-Type": "application/json"}
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        step = SENDERS / RATE
        due = time.monotonic() + sender * step / SENDERS
        n = 0
        while due < self.stop:
            time.sleep(max(0.0, due - time.monotonic()))
            due += step
            fleet = [(n * 19 + k) % FLEET for k in range(19)]
            alerts = [
                {"status": "firing", "labels": {"alertname": "Fleet", "instance": f"h{i}"}}
                for i in fleet
            ]
            alerts.append(
                {"status": "firing", "labels": {"alertname": "New", "instance": f"{sender}-{n}"}}
            )
            n += 1
            body = _webhook(alerts)
            status = 0
            started = time.perf_counter()
            for _attempt in range(2):  # a keep-alive connection the server closed: once more
                try:
                    conn.request("POST", "/api/v1/alertmanager", body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    status = response.status
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            with self.lock:
                self.statuses[status] += 1
                if status:
                    self.latencies.append(time.perf_counter() - started)
        conn.close()

    def summary(self) -> str:
        ordered = sorted(self.latencies) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        others = sum(n for status, n in self.statuses.items() if status not in (0, 200))
        return (
            f"{sum(self.statuses.values())} posts: {self.statuses[200]} 200, "
            f"{self.statuses[503]} 503, {others - self.statuses[503]} other, "
            f"{self.statuses[0]} unanswered; p99 {p99 * 1000:.0f} ms, "
            f"slowest {ordered[-1] * 1000:.0f} ms"
        )


def sustained(name: str, url: str, tmp: Path) -> list[float]:
    """Post at RATE for SUSTAINED_MINUTES; return RSS at the start and after each minute."""
    with running_bridge(url, tmp) as bridge:
        assert bridge.proc is not None
        senders = Senders(bridge.url, time.monotonic() + SUSTAINED_MINUTES * 60)
        rss = [rss_mib(bridge.proc.pid)]
        senders.start()
        started = time.monotonic()
        for minute in range(1, int(SUSTAINED_MINUTES) + 1):
            time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
            rss.append(rss_mib(bridge.proc.pid))
            print(f"{name:<12} minute {minute}: RSS {rss[-1]:.1f} MiB (load {load()})", flush=True)
        senders.join()
    print(f"{name:<12} {senders.summary()}", flush=True)
    return rss


def slope(rss: list[float]) -> float:
    """Return the RSS slope in MiB per minute over the run's second half (least squares)."""
    half = rss[len(rss) // 2 :]
    if len(half) < 2:
        return 0.0
    xs = range(len(half))
    mean_x, mean_y = sum(xs) / len(half), sum(half) / len(half)
    num = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, half, strict=True))
    return num / sum((x - mean_x) ** 2 for x in xs)


def main() -> int:
    """Run the sustained load on each database; print RSS by minute and its slope."""
    curves = on_each_database(
        "tocsin-bench-sustained-",
        f"== sustained: {RATE:g} webhook posts/s x 20 alerts, {SUSTAINED_MINUTES:g} min",
        sustained,
    )
    for name, rss in curves.items():
        print(
            f"{name:<12} RSS by minute: {' '.join(f'{r:.0f}' for r in rss)} MiB; "
            f"slope over the second half {slope(rss):+.2f} MiB/min",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
