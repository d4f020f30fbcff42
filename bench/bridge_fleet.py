"""A fleet of agents heartbeating every 30 s, on SQLite and on PostgreSQL (fsync=on), 1 and 2 workers.

For each database and each `workers` setting (TOCSIN_BENCH_FLEET_WORKERS, default 1,2) a fresh
bridge gets, for each fleet size K (TOCSIN_BENCH_FLEET, default 1000,10000,20000), K heartbeats
spread over every 30 s and a new alert a minute from 1 % of the agents, for
TOCSIN_BENCH_FLEET_SECONDS (20 s; 60 s with TOCSIN_BENCH_FULL=1), on
TOCSIN_BENCH_FLEET_DATABASES (default SQLite,PostgreSQL). The hosts are known
beforehand (a fleet that has reported before), so heartbeats refresh rows as they do all day.
Printed per run: requests offered and answered 2xx per second, requests not answered, heartbeat
and alert p50/p99, the bridge's CPU (cores, and ms per request, all its processes), the load
generator's CPU and how late it wrote requests (bench/fleet_load.py), and the load average.
Then the database's growth per incident opened and per day for the 1,000-agent fleet, and CPU
per heartbeat at 1,000 agents with 1,000 against 101,000 known hosts.
Targets (2 cores): heartbeat p99 < 50 ms with every request answered at 20,000 agents; CPU per
heartbeat within 20 % from 1,000 to 101,000 known hosts. Before (issue #22, SQLite): p99 15 ms
at 1,000 agents, 814 ms at 5,000, and 236 of 335 req/s delivered at 10,000; CPU per heartbeat
1.4 -> 6.9 ms from 1,000 to 30,000 hosts.
Run alone: `python -m bench bridge_fleet`.
"""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import psutil
from sqlalchemy import create_engine, func, insert, select, text

from bench.fleet_load import GENERATORS, Result, run_fleet
from tests.bridge.server import BridgeProcess, running_bridge
from tests.pg import create_database, durability, postgres_cluster
from tocsin.bridge.store.schema import heartbeats, incidents

FULL = os.environ.get("TOCSIN_BENCH_FULL") == "1"
FLEET = [int(k) for k in os.environ.get("TOCSIN_BENCH_FLEET", "1000,10000,20000").split(",")]
WORKERS = [int(w) for w in os.environ.get("TOCSIN_BENCH_FLEET_WORKERS", "1,2").split(",")]
SECONDS = float(os.environ.get("TOCSIN_BENCH_FLEET_SECONDS", "60" if FULL else "20"))
DATABASES = os.environ.get("TOCSIN_BENCH_FLEET_DATABASES", "SQLite,PostgreSQL").split(",")
KNOWN_HOSTS = 100_000
PREFIX = "agent-"
HEADER = (
    f"{'database':<12}{'workers':>8}{'agents':>8}{'offered/s':>10}{'2xx/s':>7}{'failed':>7}"
    f"{'beat p50':>9}{'p99':>8}{'alert p50':>10}{'p99':>8}{'bridge CPU':>11}{'ms/req':>8}"
    f"{'gen CPU':>8}{'gen lag p99':>12}{'load':>6}  failures by status (0: no answer)"
)


def main() -> int:
    """Run the fleet phases on both databases."""
    with (
        tempfile.TemporaryDirectory(prefix="tocsin-bench-fleet-") as raw,
        postgres_cluster(durable=True) as server,
    ):
        tmp = Path(raw)
        print(f"PostgreSQL: {', '.join(durability(server))}", flush=True)
        print(f"{SECONDS:.0f} s per run, {GENERATORS} generator processes, {os.cpu_count()} CPUs")
        print(HEADER, flush=True)
        sizes = []
        for name in DATABASES:
            for workers in WORKERS:
                home = tmp / f"{name}-{workers}"
                home.mkdir()
                url = _url(name, home, server)
                with running_bridge(url, home, workers=workers) as bridge:
                    known_hosts(url, max(FLEET), PREFIX)
                    size = _size(url)
                    for agents in FLEET:
                        fleet, cpu = phase(bridge, agents, SECONDS)
                        _row(name, workers, agents, fleet, cpu)
                    if workers == WORKERS[0]:
                        sizes.append((name, _size(url) - size, _incidents(url)))
        for name, grown, opened in sizes:
            _growth(name, grown, opened)
        for name in DATABASES:
            flat(name, tmp, server)
    return 0


def _url(name: str, home: Path, server: str) -> str:
    return f"sqlite:///{home / 'tocsin.db'}" if name == "SQLite" else create_database(server)


def _row(name: str, workers: int, agents: int, fleet: Result, cpu: float) -> None:
    ok = len(fleet.beats) + len(fleet.alerts)
    print(
        f"{name:<12}{workers:>8}{agents:>8}{fleet.offered / SECONDS:>10.0f}{ok / SECONDS:>7.0f}"
        f"{fleet.failed:>7}{_ms(fleet.beats, 0.5):>9}{_ms(fleet.beats, 0.99):>8}"
        f"{_ms(fleet.alerts, 0.5):>10}{_ms(fleet.alerts, 0.99):>8}{cpu / SECONDS:>11.2f}"
        f"{cpu / max(1, ok) * 1000:>8.2f}{fleet.cpu / SECONDS:>8.2f}{_ms(fleet.lag, 0.99):>12}"
        f"{os.getloadavg()[0]:>6.1f}  {dict(sorted(fleet.statuses.items())) or ''}",
        flush=True,
    )
    if agents >= 20_000:
        p99 = sorted(fleet.beats)[int(len(fleet.beats) * 0.99)] if fleet.beats else float("inf")
        met = p99 < 0.050 and fleet.failed == 0
        print(
            f"{'':<12}target at 20,000 agents (heartbeat p99 < 50 ms, every request 2xx): "
            f"{'met' if met else 'MISSED'}",
            flush=True,
        )


def _ms(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{ordered[min(len(ordered) - 1, int(len(ordered) * q))] * 1000:.1f}"


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def phase(
    bridge: BridgeProcess, agents: int, seconds: float, prefix: str = PREFIX
) -> tuple[Result, float]:
    """Run one fleet against a bridge; return the results and the bridge's CPU seconds meanwhile."""
    assert bridge.proc is not None
    root = psutil.Process(bridge.proc.pid)
    pids = [root.pid, *(child.pid for child in root.children(recursive=True))]
    before = _cpu(pids)
    fleet = run_fleet(bridge.url, agents, seconds, prefix)
    return fleet, _cpu(pids) - before


def known_hosts(url: str, count: int, prefix: str) -> None:
    """Insert `count` hosts' rows, as a fleet that reported before would have left."""
    now = datetime.now(UTC)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for start in range(0, count, 5000):
                conn.execute(
                    insert(heartbeats),
                    [
                        {
                            "host": f"{prefix}{n}",
                            "interval_seconds": 86400.0,
                            "labels": {},
                            "first_seen_at": now,
                            "last_seen_at": now,
                            # Far off: a host's first beat sets its deadline, and hosts of a
                            # larger fleet than the one running do not go silent meanwhile.
                            "deadline_at": datetime(2100, 1, 1, tzinfo=UTC),
                        }
                        for n in range(start, min(count, start + 5000))
                    ],
                )
    finally:
        engine.dispose()


def _size(url: str) -> int:
    """Return the bytes the database uses (SQLite: pages in use; PostgreSQL: the database's size)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                pages = conn.execute(text("PRAGMA page_count")).scalar_one()
                free = conn.execute(text("PRAGMA freelist_count")).scalar_one()
                return int((pages - free) * conn.execute(text("PRAGMA page_size")).scalar_one())
            return int(
                conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
            )
    finally:
        engine.dispose()


def _incidents(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(incidents)).scalar_one())
    finally:
        engine.dispose()


def _growth(name: str, grown: int, opened: int) -> None:
    """Print the growth per incident and what a 1,000-agent fleet's day adds at that rate."""
    per_incident = grown / max(1, opened)
    a_day = 1000 // 100 * 24 * 60  # 1 % of 1,000 agents open an incident a minute
    print(
        f"{name:<12} database +{grown / 1e6:,.1f} MB over the runs above with {opened:,} "
        f"incidents opened: {per_incident / 1e3:,.1f} kB per incident (its alert, events, timers, "
        f"outbox; heartbeats refresh their host's row in place, which on PostgreSQL leaves dead "
        f"row versions until autovacuum); a 1,000-agent fleet with 1 % "
        f"alerting each minute opens {a_day:,} a day: {per_incident * a_day / 1e6:,.0f} MB a day",
        flush=True,
    )


def flat(name: str, tmp: Path, server: str) -> None:
    """Print CPU per heartbeat at 1,000 agents with 1,000 and with 101,000 known hosts."""
    costs = []
    for known in (0, KNOWN_HOSTS):
        home = tmp / f"{name}-flat-{known}"
        home.mkdir()
        url = _url(name, home, server)
        with running_bridge(url, home) as bridge:
            known_hosts(url, known, "known-")
            known_hosts(url, 1000, "flat-")
            fleet, cpu = phase(bridge, 1000, min(SECONDS, 15.0), "flat-")
            costs.append(cpu / max(1, len(fleet.beats) + len(fleet.alerts)) * 1000)
    print(
        f"{name:<12} CPU per request, 1,000 agents: {costs[0]:.2f} ms with 1,000 hosts known, "
        f"{costs[1]:.2f} ms with {KNOWN_HOSTS + 1000:,} ({(costs[1] / costs[0] - 1) * 100:+.0f} %)"
        f"; load {os.getloadavg()[0]:.1f}",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
