"""A fleet of agents heartbeating every 30 s, on SQLite and on PostgreSQL (fsync=on).

For each fleet size K (TOCSIN_BENCH_FLEET, default 1000,10000,20000) the bridge gets K
heartbeats spread over every 30 s and one alert a minute from 1 % of the agents, for
FLEET_SECONDS (60): heartbeat and alert p50/p99, requests delivered against offered, requests
not answered 2xx, and the bridge's CPU per heartbeat. Then CPU per heartbeat at 1,000 agents
with 1,000 against 100,000 known hosts (rows inserted beforehand): a heartbeat should cost the
same. Targets (2 cores): heartbeat p99 < 50 ms with every request answered at 20,000 agents;
CPU per heartbeat within 20 % from 1,000 to 100,000 known hosts. Before (issue #22, SQLite):
p99 15 ms at 1,000 agents, 814 ms at 5,000, and 236 of 335 req/s delivered at 10,000;
CPU per heartbeat 1.4 -> 6.9 ms from 1,000 to 30,000 hosts.
"""

from __future__ import annotations

import http.client
import json
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import create_engine, insert

from tests.bridge.helpers import INGEST, bearer
from tests.bridge.server import BridgeProcess, running_bridge
from tests.pg import create_database, durability, postgres_cluster
from tocsin.bridge.store.schema import heartbeats

FLEET = [int(k) for k in os.environ.get("TOCSIN_BENCH_FLEET", "1000,10000,20000").split(",")]
FLEET_SECONDS = float(os.environ.get("TOCSIN_BENCH_FLEET_SECONDS", "60"))
INTERVAL = 30.0
SENDERS = 16
KNOWN_HOSTS = 100_000


class Fleet:
    """K agents' heartbeats (and 1 % of them alerting once a minute) spread over time."""

    def __init__(self, url: str, agents: int, seconds: float, prefix: str) -> None:
        self.host, port = url.removeprefix("http://").split(":")
        self.port = int(port)
        self.agents = agents
        self.seconds = seconds
        self.prefix = prefix
        self.beats: list[float] = []
        self.alerts: list[float] = []
        self.failed = 0
        self.offered = 0
        self.lock = threading.Lock()

    def run(self) -> None:
        """Send for `seconds`, each sender taking every SENDERS-th request of the schedule."""
        threads = [threading.Thread(target=self._send, args=(n,)) for n in range(SENDERS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=self.seconds + 60)

    def _send(self, sender: int) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        headers = {**bearer(INGEST), "Content-Type": "application/json"}
        step = INTERVAL / self.agents  # one heartbeat every `step` seconds across the fleet
        start = time.monotonic() + 0.5
        n = sender
        while True:
            due = start + n * step
            if due - start >= self.seconds:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            agent = n % self.agents
            # 1 % of the agents fire one alert a minute: every 100th agent, on every other beat.
            alerting = agent % 100 == 0 and (n // self.agents) % 2 == 0
            path, body, into = (
                (
                    "/api/v2/alerts",
                    [{"labels": {"alertname": "Fleet", "instance": f"{self.prefix}{agent}"}}],
                    self.alerts,
                )
                if alerting
                else (
                    "/api/v1/heartbeats",
                    {"host": f"{self.prefix}{agent}", "interval_seconds": INTERVAL},
                    self.beats,
                )
            )
            n += SENDERS
            started = time.perf_counter()
            try:
                conn.request("POST", path, body=json.dumps(body), headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                ok = False
            took = time.perf_counter() - started
            with self.lock:
                self.offered += 1
                if ok:
                    into.append(took)
                else:
                    self.failed += 1


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000:.1f}"


def _cpu(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def phase(bridge: BridgeProcess, agents: int, seconds: float, prefix: str) -> tuple[Fleet, float]:
    """Run one fleet against a bridge; return it and the bridge's CPU seconds meanwhile."""
    assert bridge.proc is not None
    fleet = Fleet(bridge.url, agents, seconds, prefix)
    before = _cpu(bridge.proc.pid)
    fleet.run()
    return fleet, _cpu(bridge.proc.pid) - before


def known_hosts(url: str, count: int) -> None:
    """Insert `count` hosts' rows, as a fleet that long reported would have left."""
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for start in range(0, count, 5000):
                conn.execute(
                    insert(heartbeats),
                    [
                        {
                            "host": f"known-{n}",
                            "interval_seconds": 86400.0,
                            "labels": {},
                            "first_seen_at": now,
                            "last_seen_at": now,
                            "deadline_at": datetime(2100, 1, 1, tzinfo=UTC),
                        }
                        for n in range(start, min(count, start + 5000))
                    ],
                )
    finally:
        engine.dispose()


def main() -> int:
    """Run the fleet phases on both databases."""
    with (
        tempfile.TemporaryDirectory(prefix="tocsin-bench-fleet-") as raw,
        postgres_cluster(durable=True) as server,
    ):
        tmp = Path(raw)
        print(f"PostgreSQL: {', '.join(durability(server))}", flush=True)
        print(
            f"{'database':<12}{'agents':>8}{'offered/s':>11}{'ok/s':>8}{'failed':>8}"
            f"{'beat p50':>10}{'beat p99':>10}{'alert p50':>11}{'alert p99':>11}"
            f"{'CPU ms/beat':>13}",
            flush=True,
        )
        for name in ("SQLite", "PostgreSQL"):
            (tmp / name).mkdir()
            url = (
                f"sqlite:///{tmp / name / 'tocsin.db'}"
                if name == "SQLite"
                else create_database(server)
            )
            with running_bridge(url, tmp / name) as bridge:
                for agents in FLEET:
                    fleet, cpu = phase(bridge, agents, FLEET_SECONDS, f"k{agents}-")
                    ok = len(fleet.beats) + len(fleet.alerts)
                    print(
                        f"{name:<12}{agents:>8}{fleet.offered / FLEET_SECONDS:>11.0f}"
                        f"{ok / FLEET_SECONDS:>8.0f}{fleet.failed:>8}"
                        f"{_ms(fleet.beats, 0.5):>10}{_ms(fleet.beats, 0.99):>10}"
                        f"{_ms(fleet.alerts, 0.5):>11}{_ms(fleet.alerts, 0.99):>11}"
                        f"{cpu / max(1, ok) * 1000:>13.2f}",
                        flush=True,
                    )
            flat(name, tmp, server)
    return 0


def flat(name: str, tmp: Path, server: str) -> None:
    """Print CPU per heartbeat at 1,000 agents with 1,000 and with 100,000 known hosts."""
    costs = []
    for known in (0, KNOWN_HOSTS):
        (tmp / f"{name}-{known}").mkdir()
        url = (
            f"sqlite:///{tmp / f'{name}-{known}' / 'tocsin.db'}"
            if name == "SQLite"
            else create_database(server)
        )
        with running_bridge(url, tmp / f"{name}-{known}") as bridge:
            known_hosts(url, known)
            fleet, cpu = phase(bridge, 1000, min(FLEET_SECONDS, 30.0), "flat-")
            costs.append(cpu / max(1, len(fleet.beats) + len(fleet.alerts)) * 1000)
    print(
        f"{name:<12} CPU per heartbeat, 1,000 agents: {costs[0]:.2f} ms with 1,000 hosts known, "
        f"{costs[1]:.2f} ms with {KNOWN_HOSTS + 1000:,} ({(costs[1] / costs[0] - 1) * 100:+.0f} %)",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
