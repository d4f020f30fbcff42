"""Bridge ingestion through POST /api/v2/alerts on SQLite and PostgreSQL, beside Alertmanager.

Figures: alerts/s in batches of 100 from 8 senders (new alerts, each opening an incident, and
resends of firing ones), requests/s one alert at a time from 8 senders, p50/p99 latency at a
paced 100 requests/s, and the bridge's RSS with 10,000 open incidents. Targets (2 cores):
>= 2,000 alerts/s batched, >= 300 requests/s single, p99 < 50 ms at 100 requests/s, RSS < 150 MB.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import requests

from tests.bridge.helpers import INGEST, bearer
from tests.bridge.server import BridgeProcess, free_port
from tests.pg import create_database, postgres_cluster

SENDERS = 8
BATCH = 100
OPEN_INCIDENTS = 10_000
PACED_RATE = 100.0
PACED_SECONDS = 5.0
SINGLE_SECONDS = 5.0


def _alerts(prefix: str, start: int, count: int) -> list[dict[str, object]]:
    return [
        {"labels": {"alertname": "Bench", "instance": f"{prefix}-{n}", "severity": "info"}}
        for n in range(start, start + count)
    ]


def _run(senders: int, work: Callable[[int, requests.Session, list[float]], None]) -> list[float]:
    """Run `work(sender_index, session, latencies)` in parallel; return all latencies."""
    latencies: list[list[float]] = [[] for _ in range(senders)]

    def one(index: int) -> None:
        with requests.Session() as session:
            work(index, session, latencies[index])

    threads = [threading.Thread(target=one, args=(i,)) for i in range(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [value for chunk in latencies for value in chunk]


RETRIES = {"count": 0}


def _post(session: requests.Session, url: str, body: object, headers: dict[str, str]) -> float:
    """Post until a 2xx, honouring Retry-After on 503 as Alertmanager does; return the latency."""
    started = time.perf_counter()
    for _ in range(100):
        response = session.post(url, json=body, headers=headers, timeout=30)
        if response.status_code == 200:
            return time.perf_counter() - started
        if response.status_code != 503:
            break
        RETRIES["count"] += 1
        time.sleep(float(response.headers.get("Retry-After", "1")))
    raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")


def batched(url: str, headers: dict[str, str], prefix: str, total: int) -> float:
    """Post `total` distinct alerts in batches of 100 from 8 senders; return alerts/s."""
    per_sender = total // SENDERS

    def work(index: int, session: requests.Session, lat: list[float]) -> None:
        base = index * per_sender
        for offset in range(0, per_sender, BATCH):
            count = min(BATCH, per_sender - offset)
            lat.append(_post(session, url, _alerts(prefix, base + offset, count), headers))

    started = time.perf_counter()
    _run(SENDERS, work)
    return per_sender * SENDERS / (time.perf_counter() - started)


def single(url: str, headers: dict[str, str], prefix: str, new: bool) -> tuple[float, list[float]]:
    """Post one alert per request from 8 senders for a few seconds; return requests/s.

    `new`: every request a new alert (opens an incident); else each sender re-sends its own
    firing alert, the steady state of Prometheus and Alertmanager re-sending every minute.
    """
    deadline = time.perf_counter() + SINGLE_SECONDS

    def work(index: int, session: requests.Session, lat: list[float]) -> None:
        n = 0
        while time.perf_counter() < deadline:
            lat.append(
                _post(session, url, _alerts(f"{prefix}-{index}", n if new else 0, 1), headers)
            )
            n += 1

    started = time.perf_counter()
    latencies = _run(SENDERS, work)
    return len(latencies) / (time.perf_counter() - started), latencies


def paced(url: str, headers: dict[str, str], prefix: str) -> list[float]:
    """Post single alerts at 100 requests/s in total, spread over 8 senders; return latencies."""
    interval = SENDERS / PACED_RATE
    count = int(PACED_SECONDS * PACED_RATE / SENDERS)

    def work(index: int, session: requests.Session, lat: list[float]) -> None:
        start = time.perf_counter() + index * interval / SENDERS
        for n in range(count):
            time.sleep(max(0.0, start + n * interval - time.perf_counter()))
            lat.append(_post(session, url, _alerts(f"{prefix}-{index}", n, 1), headers))

    return _run(SENDERS, work)


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(name: str, url: str, headers: dict[str, str], pid: int | None) -> dict[str, float]:
    """Run every phase against one receiver and print its figures."""
    endpoint = f"{url}/api/v2/alerts"
    RETRIES["count"] = 0
    figures: dict[str, float] = {}
    figures["single_resend_rps"], _ = single(endpoint, headers, "resend", new=False)
    figures["single_new_rps"], _ = single(endpoint, headers, "new", new=True)
    paced_latencies = paced(endpoint, headers, "paced")
    figures["paced_p50_ms"] = _ms(paced_latencies, 0.5)
    figures["paced_p99_ms"] = _ms(paced_latencies, 0.99)
    figures["batched_new"] = batched(endpoint, headers, "open", OPEN_INCIDENTS)
    figures["batched_resend"] = batched(endpoint, headers, "open", OPEN_INCIDENTS)
    if pid is not None:
        figures["rss_mb"] = psutil.Process(pid).memory_info().rss / 2**20
    _print(name, figures)
    return figures


def _print(name: str, figures: dict[str, float]) -> None:
    rss = f"{figures['rss_mb']:.0f} MB" if "rss_mb" in figures else "-"
    print(
        f"{name:<34} batched {figures['batched_new']:6.0f} new/s {figures['batched_resend']:6.0f} "
        f"resent/s | single {figures['single_new_rps']:4.0f} new/s "
        f"{figures['single_resend_rps']:4.0f} resent/s | new at 100 req/s p50 "
        f"{figures['paced_p50_ms']:5.1f} ms p99 {figures['paced_p99_ms']:6.1f} ms | RSS {rss}"
        f" | 503-retries {RETRIES['count']}",
        flush=True,
    )


@contextmanager
def bridge(database_url: str, tmp: Path, **config: object) -> Iterator[BridgeProcess]:
    """Run a bridge with the bundled policy: one P3 incident per alert of severity info."""
    process = BridgeProcess(tmp, database_url, limits={"max_body_bytes": "4MiB"}, **config)
    process.start(timeout=60)
    try:
        yield process
    finally:
        process.stop()


@contextmanager
def alertmanager(tmp: Path) -> Iterator[tuple[str, int] | None]:
    """Run Debian's Alertmanager as the peer, if installed."""
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        yield None
        return
    config = tmp / "am.yml"
    config.write_text("route: {receiver: none}\nreceivers: [{name: none}]\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.path={tmp / 'am'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> int:
    """Measure the bridge on SQLite and PostgreSQL, and Alertmanager as the peer."""
    print(
        f"targets: batched >= 2000 alerts/s, single >= 300 req/s, p99 < 50 ms at 100 req/s, "
        f"RSS < 150 MB with {OPEN_INCIDENTS} open incidents; {SENDERS} senders",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as raw:
        tmp = Path(raw)
        for sync in ("full", "normal"):
            (tmp / sync).mkdir()
            url = f"sqlite:///{tmp / sync / 'tocsin.db'}"
            with bridge(url, tmp / sync, sqlite_synchronous=sync) as process:
                assert process.proc is not None
                name = f"tocsin-bridge (SQLite, sync={sync})"
                measure(name, process.url, bearer(INGEST), process.proc.pid)
        with postgres_cluster() as server:
            (tmp / "pg").mkdir()
            with bridge(create_database(server), tmp / "pg") as process:
                assert process.proc is not None
                measure("tocsin-bridge (PostgreSQL)", process.url, bearer(INGEST), process.proc.pid)
        with alertmanager(tmp) as peer:
            if peer is None:
                print("alertmanager (peer): not installed")
            else:
                measure("alertmanager (peer)", peer[0], {}, peer[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
