"""Bridge ingestion through POST /api/v2/alerts on SQLite and PostgreSQL, beside Alertmanager.

Figures: alerts/s in batches of 100 from 8 senders (new alerts, each opening an incident, and
resends of firing ones), requests/s one alert at a time from 8 senders (new and resent),
p50/p99 latency of new alerts at a paced 100 requests/s, and the bridge's RSS with 10,000 open
incidents. Targets (2 cores): >= 2,000 alerts/s batched, >= 300 requests/s single, p99 < 50 ms
at 100 requests/s, RSS < 150 MB. Each phase starts once the receiver has finished the last
one's work, and is bounded in time: the whole run takes minutes.

The senders share the 2 cores with the receiver, so they are kept light: one keep-alive
http.client connection each (about 0.25 ms of CPU a request, where requests takes about 1 ms),
the same for the bridge and for Alertmanager.
"""

from __future__ import annotations

import http.client
import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import requests

from tests.bridge.helpers import INGEST, bearer
from tests.bridge.server import BridgeProcess, free_port
from tests.pg import create_database, durability, postgres_cluster

SENDERS = 8
BATCH = 100
OPEN_INCIDENTS = 10_000
PACED_RATE = 100.0
PACED_SECONDS = 5.0
SINGLE_SECONDS = 5.0
BATCHED_SECONDS = 30.0  # a slow receiver stops early; its rate counts what it took
SETTLE_SECONDS = 20.0  # at most this long for a receiver to finish the last phase's work


def _alerts(prefix: str, start: int, count: int) -> list[dict[str, object]]:
    return [
        {"labels": {"alertname": "Bench", "instance": f"{prefix}-{n}", "severity": "info"}}
        for n in range(start, start + count)
    ]


class Sender:
    """One sender's keep-alive connection: posts JSON until a 2xx, as Alertmanager does."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.path = parts.path
        self.headers = {**headers, "Content-Type": "application/json"}
        self.conn = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=30
        )

    def post(self, body: object) -> float:
        """Post until a 2xx, honouring Retry-After on 503; return the latency."""
        data = json.dumps(body).encode()
        started = time.perf_counter()
        for _ in range(100):
            self.conn.request("POST", self.path, body=data, headers=self.headers)
            response = self.conn.getresponse()
            text = response.read()
            if response.status == 200:
                return time.perf_counter() - started
            if response.status != 503:
                break
            RETRIES["count"] += 1
            time.sleep(float(response.getheader("Retry-After") or "1"))
        raise RuntimeError(f"{self.path}: {response.status} {text[:200]!r}")

    def close(self) -> None:
        self.conn.close()


def _run(
    url: str, headers: dict[str, str], work: Callable[[int, Sender, list[float]], None]
) -> list[float]:
    """Run `work(sender_index, sender, latencies)` in 8 threads; return all latencies."""
    latencies: list[list[float]] = [[] for _ in range(SENDERS)]

    def one(index: int) -> None:
        sender = Sender(url, headers)
        try:
            work(index, sender, latencies[index])
        finally:
            sender.close()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [value for chunk in latencies for value in chunk]


RETRIES = {"count": 0}


def batched(url: str, headers: dict[str, str], prefix: str, total: int) -> tuple[float, int]:
    """Post up to `total` distinct alerts in batches of 100 from 8 senders; return alerts/s, sent."""
    per_sender = total // SENDERS
    deadline = time.perf_counter() + BATCHED_SECONDS
    sent = [0] * SENDERS

    def work(index: int, sender: Sender, lat: list[float]) -> None:
        base = index * per_sender
        for offset in range(0, per_sender, BATCH):
            if time.perf_counter() > deadline:
                return
            count = min(BATCH, per_sender - offset)
            lat.append(sender.post(_alerts(prefix, base + offset, count)))
            sent[index] += count

    started = time.perf_counter()
    _run(url, headers, work)
    return sum(sent) / (time.perf_counter() - started), sum(sent)


def single(url: str, headers: dict[str, str], prefix: str, new: bool) -> tuple[float, list[float]]:
    """Post one alert per request from 8 senders for a few seconds; return requests/s.

    `new`: every request a new alert (opens an incident); else each sender re-sends its own
    firing alert, the steady state of Prometheus and Alertmanager re-sending every minute.
    """
    deadline = time.perf_counter() + SINGLE_SECONDS

    def work(index: int, sender: Sender, lat: list[float]) -> None:
        n = 0
        while time.perf_counter() < deadline:
            lat.append(sender.post(_alerts(f"{prefix}-{index}", n if new else 0, 1)))
            n += 1

    started = time.perf_counter()
    latencies = _run(url, headers, work)
    return len(latencies) / (time.perf_counter() - started), latencies


def paced(url: str, headers: dict[str, str], prefix: str) -> list[float]:
    """Post single alerts at 100 requests/s in total, spread over 8 senders; return latencies."""
    interval = SENDERS / PACED_RATE
    count = int(PACED_SECONDS * PACED_RATE / SENDERS)

    def work(index: int, sender: Sender, lat: list[float]) -> None:
        start = time.perf_counter() + index * interval / SENDERS
        for n in range(count):
            time.sleep(max(0.0, start + n * interval - time.perf_counter()))
            lat.append(sender.post(_alerts(f"{prefix}-{index}", n, 1)))

    return _run(url, headers, work)


def settle(pid: int | None) -> None:
    """Wait until the receiver is idle: each phase starts without the last one's backlog.

    New incidents can leave work behind (the deliveries of their pages); a phase that followed
    straight on would measure that backlog, not its own load.
    """
    if pid is None:
        return
    process = psutil.Process(pid)
    deadline = time.perf_counter() + SETTLE_SECONDS
    while time.perf_counter() < deadline and process.cpu_percent(interval=0.5) > 10.0:
        pass


def _ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(name: str, url: str, headers: dict[str, str], pid: int | None) -> dict[str, float]:
    """Run every phase against one receiver and print its figures as they come."""
    endpoint = f"{url}/api/v2/alerts"
    RETRIES["count"] = 0
    figures: dict[str, float] = {}
    figures["single_resend_rps"], _ = single(endpoint, headers, "resend", new=False)
    settle(pid)
    figures["single_new_rps"], _ = single(endpoint, headers, "new", new=True)
    settle(pid)
    paced_latencies = paced(endpoint, headers, "paced")
    figures["paced_p50_ms"] = _ms(paced_latencies, 0.5)
    figures["paced_p99_ms"] = _ms(paced_latencies, 0.99)
    settle(pid)
    figures["batched_new"], opened = batched(endpoint, headers, "open", OPEN_INCIDENTS)
    settle(pid)
    figures["batched_resend"], _ = batched(endpoint, headers, "open", opened)
    if pid is not None:
        figures["rss_mb"] = psutil.Process(pid).memory_info().rss / 2**20
    figures["retries"] = RETRIES["count"]
    print(
        f"  {name}: batched {figures['batched_new']:.0f} new/s ({opened} sent), "
        f"{figures['batched_resend']:.0f} resent/s; single {figures['single_new_rps']:.0f} new/s, "
        f"{figures['single_resend_rps']:.0f} resent/s; paced p50 {figures['paced_p50_ms']:.1f} ms "
        f"p99 {figures['paced_p99_ms']:.1f} ms; 503 retries {RETRIES['count']}",
        flush=True,
    )
    return figures


# (key, label, target, higher is better, format)
ROWS = [
    ("batched_new", "batched 100/request, new alerts/s", 2000.0, True, "{:,.0f}"),
    ("batched_resend", "batched 100/request, resent alerts/s", 2000.0, True, "{:,.0f}"),
    ("single_new_rps", "single alert, new requests/s", 300.0, True, "{:,.0f}"),
    ("single_resend_rps", "single alert, resent requests/s", 300.0, True, "{:,.0f}"),
    ("paced_p50_ms", "new at 100 req/s, p50 ms", None, False, "{:.1f}"),
    ("paced_p99_ms", "new at 100 req/s, p99 ms", 50.0, False, "{:.1f}"),
    ("rss_mb", f"RSS MB, {OPEN_INCIDENTS:,} open incidents", 150.0, False, "{:.0f}"),
    ("retries", "503 answers retried", None, False, "{:.0f}"),
]
PEER = "alertmanager (peer)"


def report(results: dict[str, dict[str, float]]) -> None:
    """Print each figure per receiver beside its target, and its ratio to Alertmanager's."""
    names = list(results)
    peer = results.get(PEER, {})
    width = 20
    print(f"{'':40}{'target':>10}" + "".join(f"{n:>{width}}" for n in names), flush=True)
    for key, label, target, higher, fmt in ROWS:
        goal = "" if target is None else ("≥ " if higher else "< ") + fmt.format(target)
        cells = []
        for name in names:
            value = results[name].get(key)
            if value is None:
                cells.append(f"{'-':>{width}}")
                continue
            mark = ""
            if target is not None and name != PEER:
                mark = " ok" if (value >= target if higher else value < target) else " NO"
            cells.append(f"{fmt.format(value) + mark:>{width}}")
        print(f"{label:<40}{goal:>10}" + "".join(cells), flush=True)
    if not peer:
        return
    ours = [name for name in names if name != PEER]
    print(
        f"{'ratio to Alertmanager (> 1: better)':<50}" + "".join(f"{n:>{width}}" for n in ours),
        flush=True,
    )
    for key, label, _target, higher, _fmt in ROWS[:-2]:
        base = peer.get(key)
        cells = []
        for name in ours:
            value = results[name].get(key)
            if not base or not value:
                cells.append(f"{'-':>{width}}")
                continue
            cells.append(f"{(value / base if higher else base / value):>{width - 1}.2f}x")
        print(f"{label:<50}" + "".join(cells), flush=True)


# The bundled policy, but its primary on-call has two chat channels: each new incident's first
# step pages two places, and the delivery worker posts both to a local receiver.
BUNDLED_PERSON = "  primary: {name: Primary on-call, channels: [console]}"
PAGED_PERSON = "  primary: {name: Primary on-call, channels: [oncall-chat, oncall-feed]}"
RECEIVER = """
import http.server, sys
class Ok(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *args): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Ok).serve_forever()
"""


def paging_policy(tmp: Path, receiver: str) -> Path:
    """Write the bundled policy with the primary on-call paged on two webhook channels."""
    text = (Path(__file__).parent.parent / "rules" / "policy.yml").read_text()
    assert BUNDLED_PERSON in text and "\nchannels:\n" in text
    text = text.replace(BUNDLED_PERSON, PAGED_PERSON).replace(
        "\nchannels:\n",
        "\nchannels:\n"
        f"  oncall-chat: {{type: webhook, url: '{receiver}/chat'}}\n"
        f"  oncall-feed: {{type: webhook, url: '{receiver}/feed'}}\n",
        1,
    )
    path = tmp / "paging-policy.yml"
    path.write_text(text)
    return path


def paging(tmp: Path) -> None:
    """Measure new alerts whose first step pages two places: what a real policy costs.

    Not a target: the issue's figures use the bundled policy, whose people have no address.
    Printed with the outbox rows queued per incident and the share delivered by the end.
    """
    port = free_port()
    receiver = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
    database = tmp / "tocsin.db"
    try:
        policy = paging_policy(tmp, f"http://127.0.0.1:{port}")
        with bridge(f"sqlite:///{database}", tmp, policy=str(policy)) as process:
            assert process.proc is not None
            endpoint = f"{process.url}/api/v2/alerts"
            headers = bearer(INGEST)
            single_rps, _ = single(endpoint, headers, "new", new=True)
            settle(process.proc.pid)
            batched_rate, _ = batched(endpoint, headers, "open", OPEN_INCIDENTS)
            started = time.perf_counter()
            with sqlite3.connect(database) as db:
                while time.perf_counter() - started < DELIVERY_SECONDS:
                    opened, rows, delivered = db.execute(_OUTBOX_STATE).fetchone()
                    if delivered == rows:
                        break
                    time.sleep(0.5)
            drained = time.perf_counter() - started
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    print(
        f"paging (SQLite/full, each new incident pages 2 webhook channels; no target): "
        f"batched {batched_rate:,.0f} new alerts/s, single {single_rps:,.0f} new req/s; "
        f"{rows / max(opened, 1):.2f} outbox rows an incident; {delivered:,} of {rows:,} "
        f"delivered {drained:.0f} s after the batched phase",
        flush=True,
    )


DELIVERY_SECONDS = 60.0  # at most this long for the deliveries to drain
_OUTBOX_STATE = (
    "SELECT (SELECT count(*) FROM incidents), count(*), "
    "coalesce(sum(status = 'delivered'), 0) FROM outbox"
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


def alertmanager_binary() -> str | None:
    """Return Debian's Alertmanager (prometheus-alertmanager) if installed."""
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


@contextmanager
def alertmanager(tmp: Path) -> Iterator[tuple[str, int] | None]:
    """Run Debian's Alertmanager as the peer, if installed."""
    binary = alertmanager_binary()
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


def _http_stack() -> str:
    """Return which HTTP parser and event loop uvicorn picks here (it prefers the fast ones)."""
    import importlib.util

    fast = [m for m in ("httptools", "uvloop") if importlib.util.find_spec(m) is not None]
    return "+".join(fast) if fast else "h11+asyncio"


def main() -> int:
    """Measure the bridge on SQLite and PostgreSQL, and Alertmanager as the peer."""
    print(
        f"targets: batched >= 2000 alerts/s, single >= 300 req/s, p99 < 50 ms at 100 req/s, "
        f"RSS < 150 MB with {OPEN_INCIDENTS} open incidents; {SENDERS} senders; "
        f"uvicorn on {_http_stack()}",
        flush=True,
    )
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-") as raw:
        tmp = Path(raw)
        for sync in ("full", "normal"):
            (tmp / sync).mkdir()
            url = f"sqlite:///{tmp / sync / 'tocsin.db'}"
            with bridge(url, tmp / sync, sqlite_synchronous=sync) as process:
                assert process.proc is not None
                name = f"SQLite/{sync}"
                results[name] = measure(name, process.url, bearer(INGEST), process.proc.pid)
        with postgres_cluster(durable=True) as server:
            print(f"PostgreSQL: {', '.join(durability(server))}", flush=True)
            (tmp / "pg").mkdir()
            with bridge(create_database(server), tmp / "pg") as process:
                assert process.proc is not None
                name = "PostgreSQL"
                results[name] = measure(name, process.url, bearer(INGEST), process.proc.pid)
        with alertmanager(tmp) as peer:
            if peer is None:
                print("alertmanager (peer): not installed", flush=True)
            else:
                results[PEER] = measure(PEER, peer[0], {}, peer[1])
        report(results)
        (tmp / "paging").mkdir()
        paging(tmp / "paging")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
