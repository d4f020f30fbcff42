"""Paging: alert-to-page latency and delivery drain, the bridge beside Alertmanager 0.25.

Both get the same alerts and page the same local receiver, a process of its own
(bench/receiver.py). The bridge's policy gives every alert its own P1 incident whose first
step (after 0m) pages one webhook channel; Alertmanager routes with `group_by: ['...']` (every
alert its own notification) and `group_wait: 0s` to its webhook. Figures: alert-to-page
latency (the sender's 2xx to the receiver's request) p50/p99 at idle (one alert at a time,
paced) and during a 10,000-alert storm (batches of 100 from 4 senders), and deliveries per
second drained in the storm (pages received / time from the storm's first page to its last;
the rate at which the sender's alerts were taken is printed beside it), and the CPU seconds
the process under test spent per page in the storm (user + system, all its threads: a figure
other load on the machine hardly moves, where the rates and latencies suffer from it). The
load average is printed with each line; PostgreSQL runs with its durable defaults (fsync and
synchronous_commit on, printed), SQLite with the bridge's default synchronous=full. Targets (2 cores):
>= 2,000 deliveries/s per replica, p99 < 500 ms at idle, every first page of the storm within
30 s. Each database runs with one worker process (the default), with two of which the first
delivers (notify.deliver_from: first), with two that each deliver (the default with two), and
with one serving process beside a delivery process (notify.deliver_from: process);
TOCSIN_BENCH_PAGING_WORKERS picks (default "1,2,2:every,1:process").
Bounded: minutes.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from bench.bridge_ingest import Sender, alertmanager_binary, bridge
from bench.receiver import Receiver
from tests.bridge.helpers import INGEST, bearer
from tests.bridge.server import free_port
from tests.pg import create_database, durability, postgres_cluster

IDLE_ALERTS = 40
IDLE_GAP = 0.1  # seconds between idle alerts
STORM = 10_000
BATCH = 100
SENDERS = 4
DRAIN_SECONDS = 120.0  # at most this long for a storm's pages to arrive
# The bridge's worker processes (`workers`), each "N", "N:every" (notify.deliver_from: every,
# each process delivers; else only the first does) or "N:process" (a process of its own
# delivers beside the N serving ones).
WORKERS = os.environ.get("TOCSIN_BENCH_PAGING_WORKERS", "1,2,2:every,1:process").split(",")
POLICY = """
priorities: {{P1: {{name: emergency, response: 15m}}}}
routes: [{{priority: P1, escalation: page}}]
channels: {{hook: {{type: webhook, url: "http://127.0.0.1:{port}/bridge"}}}}
escalation_policies: {{page: [{{after: 0m, notify: [channel:hook]}}]}}
"""
AM_CONFIG = """
route: {{receiver: hook, group_by: ['...'], group_wait: 0s, group_interval: 1m, repeat_interval: 4h}}
receivers:
  - name: hook
    webhook_configs: [{{url: "http://127.0.0.1:{port}/am", send_resolved: false, max_alerts: 0}}]
"""


def wait_for(pages: Receiver, names: list[str], seconds: float) -> dict[str, float]:
    """Wait until every named alert's page arrived, at most `seconds`; return the arrivals."""
    deadline = time.perf_counter() + seconds
    while True:
        arrived = pages.arrivals()
        if all(name in arrived for name in names) or time.perf_counter() > deadline:
            return arrived
        time.sleep(0.1)


def _alert(name: str) -> dict[str, object]:
    return {"labels": {"alertname": "BenchPage", "instance": name, "severity": "critical"}}


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def idle(url: str, headers: dict[str, str], pages: Receiver, prefix: str) -> list[float]:
    """Send alerts one at a time, paced; return each one's alert-to-page latency."""
    sender = Sender(url, headers)
    acked: dict[str, float] = {}
    try:
        for n in range(IDLE_ALERTS):
            name = f"{prefix}-idle-{n}"
            sender.post([_alert(name)])
            acked[name] = time.perf_counter()
            time.sleep(IDLE_GAP)
    finally:
        sender.close()
    arrived = wait_for(pages, list(acked), 30.0)
    return [arrived[n] - at for n, at in acked.items() if n in arrived]


def storm(
    url: str,
    headers: dict[str, str],
    pages: Receiver,
    prefix: str,
    pid: int,
    delivery: int | None = None,
) -> dict[str, float]:
    """Send STORM alerts in batches from SENDERS threads; return drain rate and latencies.

    `pid` is the process under test: its CPU seconds from the storm's start until its last
    page arrived, per page, say what a page costs whatever else the machine runs; of which
    the bridge's delivery process (`delivery`, with notify.deliver_from: process) spent a share.
    """
    cpu_before = _cpu(pid)
    delivery_before = _cpu(delivery) if delivery is not None else 0.0
    acked: dict[str, float] = {}
    lock = threading.Lock()

    def send(index: int) -> None:
        sender = Sender(url, headers)
        try:
            for start in range(index * BATCH, STORM, SENDERS * BATCH):
                names = [f"{prefix}-storm-{n}" for n in range(start, min(start + BATCH, STORM))]
                sender.post([_alert(name) for name in names])
                at = time.perf_counter()
                with lock:
                    acked.update(dict.fromkeys(names, at))
        finally:
            sender.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = time.perf_counter() - began
    pages_in = wait_for(pages, list(acked), DRAIN_SECONDS)
    cpu = _cpu(pid) - cpu_before
    delivery_cpu = _cpu(delivery) - delivery_before if delivery is not None else float("nan")
    arrived = sorted(pages_in[n] for n in acked if n in pages_in)
    latencies = [pages_in[n] - at for n, at in acked.items() if n in pages_in]
    spread = arrived[-1] - arrived[0] if len(arrived) > 1 else float("nan")
    return {
        "received": len(arrived),
        "sent": STORM / max(sent, 1e-9),
        "rate": len(arrived) / max(spread, 1e-9),
        "p50": _quantile(latencies, 0.5),
        "p99": _quantile(latencies, 0.99),
        "max": max(latencies, default=float("nan")),
        "cpu_us": cpu / max(len(arrived), 1) * 1e6,
        "delivery_us": delivery_cpu / max(len(arrived), 1) * 1e6,
    }


def measure(
    name: str,
    url: str,
    headers: dict[str, str],
    pages: Receiver,
    pid: int,
    delivery: int | None = None,
) -> dict[str, float]:
    """Run the idle and the storm phase against one sender endpoint served by process `pid`."""
    lat = idle(url, headers, pages, name)
    result = storm(url, headers, pages, name, pid, delivery)
    split = "" if delivery is None else f" ({result['delivery_us']:.0f} in the delivery process)"
    result.update(idle_p50=_quantile(lat, 0.5), idle_p99=_quantile(lat, 0.99))
    print(
        f"{name:<26} idle p50 {result['idle_p50']:7.1f} ms  p99 {result['idle_p99']:7.1f} ms | "
        f"storm: taken at {result['sent']:6,.0f} alerts/s, {int(result['received']):,}/{STORM:,} "
        f"pages at {result['rate']:6,.0f} deliveries/s, "
        f"p50 {result['p50'] / 1000:6.2f} s  p99 {result['p99'] / 1000:6.2f} s  "
        f"last {result['max']:6.2f} s, {result['cpu_us']:5.0f} us CPU a page{split}; "
        f"load {_load()}",
        flush=True,
    )
    return result


def _cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) of a process and its children (worker processes)."""
    root = psutil.Process(pid)
    total = 0.0
    for process in [root, *root.children(recursive=True)]:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def _processes(workers: str) -> str:
    count, _, deliver_from = workers.partition(":")
    if deliver_from == "process":
        serving = "1 process" if count == "1" else f"{count} processes"
        return f", {serving} + delivery process"
    if count == "1":
        return ""
    delivering = "each delivers" if deliver_from == "every" else "first delivers"
    return f", {count} workers, {delivering}"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


@contextmanager
def paged_bridge(
    tmp: Path, database_url: str, port: int, workers: str = "1"
) -> Iterator[tuple[str, int]]:
    """Run a bridge whose every alert pages the local receiver; yield its endpoint and pid.

    `workers` is "N" (N processes, the first delivering), "N:every" (each delivers) or
    "N:process" (N serving, a process of their own delivering).
    """
    policy = tmp / "policy.yml"
    policy.write_text(POLICY.format(port=port))
    count, _, deliver_from = workers.partition(":")
    notify = {"deliver_from": deliver_from or "first"}
    with bridge(
        database_url, tmp, policy=str(policy), workers=int(count), notify=notify
    ) as process:
        assert process.proc is not None
        yield f"{process.url}/api/v2/alerts", process.proc.pid


def delivery_process(pid: int, workers: str) -> int | None:
    """Return the pid of bridge `pid`'s delivery process (deliver_from: process), forked last."""
    count, _, deliver_from = workers.partition(":")
    if deliver_from != "process":
        return None
    children = psutil.Process(pid).children()
    assert len(children) == int(count) + 1, children
    return max(children, key=lambda child: (child.create_time(), child.pid)).pid


def main() -> int:
    """Measure paging on SQLite and PostgreSQL, then Alertmanager sending the same alerts."""
    print(
        f"targets: >= 2000 deliveries/s, idle p99 < 500 ms, every storm page within 30 s; "
        f"{IDLE_ALERTS} idle alerts, a storm of {STORM:,} in batches of {BATCH} from {SENDERS}",
        flush=True,
    )
    results: dict[str, dict[str, float]] = {}
    pages = Receiver()
    try:
        with tempfile.TemporaryDirectory(prefix="tocsin-bench-paging-") as raw:
            tmp = Path(raw)
            print("SQLite: synchronous=full (the bridge's default)", flush=True)
            for workers in WORKERS:
                home = tmp / f"sqlite-{workers.replace(':', '-')}"
                home.mkdir()
                name = f"bridge SQLite{_processes(workers)}"
                url = f"sqlite:///{home / 'tocsin.db'}"
                with paged_bridge(home, url, pages.port, workers) as (endpoint, pid):
                    delivery = delivery_process(pid, workers)
                    results[name] = measure(name, endpoint, bearer(INGEST), pages, pid, delivery)
            with postgres_cluster(durable=True) as server:
                print(f"PostgreSQL: {', '.join(durability(server))}", flush=True)
                for workers in WORKERS:
                    home = tmp / f"pg-{workers.replace(':', '-')}"
                    home.mkdir()
                    name = f"bridge PostgreSQL{_processes(workers)}"
                    database = create_database(server)
                    with paged_bridge(home, database, pages.port, workers) as (endpoint, pid):
                        delivery = delivery_process(pid, workers)
                        results[name] = measure(
                            name, endpoint, bearer(INGEST), pages, pid, delivery
                        )
            peer = alertmanager_binary()
            if peer is None:
                print("alertmanager (peer): not installed", flush=True)
            else:
                with running_alertmanager(tmp, peer, pages.port) as (am_url, pid):
                    results["alertmanager 0.25"] = measure(
                        "alertmanager 0.25", f"{am_url}/api/v2/alerts", {}, pages, pid
                    )
    finally:
        pages.close()
    peer_result = results.get("alertmanager 0.25")
    if peer_result:
        for name, ours in results.items():
            if ours is peer_result:
                continue
            print(
                f"{name} / alertmanager: deliveries/s x{ours['rate'] / peer_result['rate']:.2f}, "
                f"idle p50 x{ours['idle_p50'] / peer_result['idle_p50']:.2f}, "
                f"idle p99 x{ours['idle_p99'] / peer_result['idle_p99']:.2f}, "
                f"storm p99 x{ours['p99'] / peer_result['p99']:.2f}, "
                f"last first page x{ours['max'] / peer_result['max']:.2f}, "
                f"CPU a page x{ours['cpu_us'] / peer_result['cpu_us']:.2f}",
                flush=True,
            )
    return 0


@contextmanager
def running_alertmanager(tmp: Path, binary: str, port: int) -> Iterator[tuple[str, int]]:
    """Run Alertmanager with group_wait 0s, its webhook pointing at the local receiver."""
    import subprocess

    import requests

    config = tmp / "am-paging.yml"
    config.write_text(AM_CONFIG.format(port=port))
    listen = free_port()
    proc = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.path={tmp / 'am-paging'}",
         f"--web.listen-address=127.0.0.1:{listen}", "--cluster.listen-address="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{listen}"
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


if __name__ == "__main__":
    raise SystemExit(main())
