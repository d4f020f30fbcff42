"""The bridge under overload and under sustained load, on SQLite and on PostgreSQL (fsync=on).

Overload: 50 senders post 100-alert batches of new alerts, about ten times what the bridge
stores, for BURST_SECONDS (30 s; TOCSIN_BENCH_BURST_SECONDS to change): how many answers were
2xx, 503 and none at all within 10 s, the slowest answer, alerts acknowledged against stored
(and any stored twice), and RSS before, at the end and a minute after. The figures before
bounded ingest (issue #24) stand beside them. Targets: every answer within 1 s, only 503 as
5xx, each acknowledged alert stored once, RSS back within 10 % of its start.

Sustained: 100 Alertmanager webhook posts a second of 20 alerts each (19 resends from a fleet
of 2,000 and one new alert) for SUSTAINED_MINUTES (5; issue #24's 15 with TOCSIN_BENCH_FULL=1,
or any with TOCSIN_BENCH_SUSTAINED_MINUTES): RSS every minute and its slope over the second
half, SQLite beside PostgreSQL.
"""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import threading
import time
from pathlib import Path

from tests.bridge.burst import burst, rss_mib, stored_instances
from tests.bridge.helpers import INGEST, bearer
from tests.bridge.server import running_bridge
from tests.pg import create_database, durability, postgres_cluster

BURST_SECONDS = float(os.environ.get("TOCSIN_BENCH_BURST_SECONDS", "30"))
FULL = os.environ.get("TOCSIN_BENCH_FULL", "") == "1"  # the issues' own durations
SUSTAINED_MINUTES = float(os.environ.get("TOCSIN_BENCH_SUSTAINED_MINUTES", "15" if FULL else "5"))
BURST_SENDERS = 50
BURST_BATCH = 100
RATE = 100.0  # webhook posts a second in the sustained phase
SENDERS = 4
FLEET = 2000
# Issue #24, measured before bounded ingest: 30 s of the same burst.
BEFORE = {
    "SQLite": "0 of 849 answers 503, 85 % no answer in 10 s, 83,900 stored vs 12,900 acked, +54 MB",
    "PostgreSQL": "8 of 816 answers 503, 92 % no answer in 10 s, +72 MB",
}


def overload(name: str, url: str, tmp: Path) -> None:
    """Run the burst against one bridge and print what the senders got."""
    with running_bridge(url, tmp) as bridge:
        assert bridge.proc is not None
        burst(bridge.url, senders=4, batch=50, seconds=2.0, prefix="warm")
        before = rss_mib(bridge.proc.pid)
        answers = burst(
            bridge.url,
            senders=BURST_SENDERS,
            batch=BURST_BATCH,
            seconds=BURST_SECONDS,
            client_timeout=10.0,
        )
        at_end = rss_mib(bridge.proc.pid)
        time.sleep(60)
        after = rss_mib(bridge.proc.pid)
    stored = stored_instances(url)
    total = sum(answers.statuses.values()) + answers.unanswered
    twice = sum(1 for count in stored.values() if count > 1)
    lost = sum(1 for alert in answers.acked if stored[alert] != 1)
    burst_stored = sum(count for alert, count in stored.items() if alert.startswith("burst-"))
    print(
        f"{name:<12} {total} requests in {BURST_SECONDS:g}s: "
        f"{answers.statuses[200]} 2xx, {answers.statuses[503]} 503, "
        f"{sum(n for s, n in answers.statuses.items() if s >= 500 and s != 503)} other 5xx, "
        f"{answers.unanswered} unanswered; p50 {answers.percentile(0.5) * 1000:.0f} ms, "
        f"p99 {answers.percentile(0.99) * 1000:.0f} ms, slowest {answers.slowest() * 1000:.0f} ms",
        flush=True,
    )
    print(
        f"{'':<12} acked {len(answers.acked)} alerts, stored {burst_stored} (stored twice "
        f"{twice}, acked but not stored once {lost}); RSS {before:.0f} -> {at_end:.0f} -> "
        f"{after:.0f} MiB a minute later ({(after - before) / before * 100:+.1f} %)",
        flush=True,
    )
    print(f"{'':<12} before (#24): {BEFORE[name]}", flush=True)


def _webhook(alerts: list[dict[str, object]]) -> bytes:
    return json.dumps(
        {"version": "4", "status": "firing", "receiver": "tocsin", "alerts": alerts}
    ).encode()


def sustained(name: str, url: str, tmp: Path) -> list[float]:
    """Post at RATE for SUSTAINED_MINUTES; return RSS at the start and after each minute."""
    with running_bridge(url, tmp) as bridge:
        assert bridge.proc is not None
        host, port = bridge.url.removeprefix("http://").split(":")
        headers = {**bearer(INGEST), "Content-Type": "application/json"}
        stop = time.monotonic() + SUSTAINED_MINUTES * 60
        failures: list[int] = []

        def send(sender: int) -> None:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            step = SENDERS / RATE
            due = time.monotonic() + sender * step / SENDERS
            n = 0
            while due < stop:
                time.sleep(max(0.0, due - time.monotonic()))
                due += step
                fleet = [(n * 19 + k) % FLEET for k in range(19)]
                alerts = [
                    {"status": "firing", "labels": {"alertname": "Fleet", "instance": f"h{i}"}}
                    for i in fleet
                ]
                alerts.append(
                    {
                        "status": "firing",
                        "labels": {"alertname": "New", "instance": f"{sender}-{n}"},
                    }
                )
                n += 1
                status = 0
                for _attempt in range(2):  # a keep-alive connection the server closed: once more
                    try:
                        conn.request(
                            "POST", "/api/v1/alertmanager", body=_webhook(alerts), headers=headers
                        )
                        response = conn.getresponse()
                        response.read()
                        status = response.status
                        break
                    except (OSError, http.client.HTTPException):
                        conn.close()
                        conn = http.client.HTTPConnection(host, int(port), timeout=10)
                if status != 200:
                    failures.append(status)

        threads = [threading.Thread(target=send, args=(s,)) for s in range(SENDERS)]
        rss = [rss_mib(bridge.proc.pid)]
        for thread in threads:
            thread.start()
        started = time.monotonic()
        for minute in range(1, int(SUSTAINED_MINUTES) + 1):
            time.sleep(max(0.0, started + minute * 60 - time.monotonic()))
            rss.append(rss_mib(bridge.proc.pid))
            print(f"{name:<12} minute {minute}: RSS {rss[-1]:.1f} MiB", flush=True)
        for thread in threads:
            thread.join(timeout=30)
    if failures:
        print(
            f"{name:<12} {len(failures)} posts not answered 200 (0: no answer): "
            f"{sorted(set(failures))}",
            flush=True,
        )
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
    """Run the overload and sustained phases on both databases."""
    with (
        tempfile.TemporaryDirectory(prefix="tocsin-bench-load-") as raw,
        postgres_cluster(durable=True) as server,
    ):
        tmp = Path(raw)
        print(f"PostgreSQL: {', '.join(durability(server))}", flush=True)
        print(f"== overload: {BURST_SENDERS} senders x {BURST_BATCH} alerts, {BURST_SECONDS:g}s")
        for name in ("SQLite", "PostgreSQL"):
            (tmp / f"o-{name}").mkdir()
            url = (
                f"sqlite:///{tmp / f'o-{name}' / 'tocsin.db'}"
                if name == "SQLite"
                else create_database(server)
            )
            overload(name, url, tmp / f"o-{name}")
        print(f"== sustained: {RATE:g} webhook posts/s x 20 alerts, {SUSTAINED_MINUTES:g} min")
        curves: dict[str, list[float]] = {}
        for name in ("SQLite", "PostgreSQL"):
            (tmp / f"s-{name}").mkdir()
            url = (
                f"sqlite:///{tmp / f's-{name}' / 'tocsin.db'}"
                if name == "SQLite"
                else create_database(server)
            )
            curves[name] = sustained(name, url, tmp / f"s-{name}")
        for name, rss in curves.items():
            print(
                f"{name:<12} RSS by minute: {' '.join(f'{r:.0f}' for r in rss)} MiB; "
                f"slope over the second half {slope(rss):+.2f} MiB/min",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
