"""Timer lag: 100,000 pending timers, 1,000 falling due per second, on SQLite and PostgreSQL.

The scheduler runs as in the bridge (real clock, real store, one worker thread) with a handler
that does nothing, so the figures are the engine's own: how late timers fire (p50, p99; target
p99 under 1 s) and the process RSS, measured with 10,000 and with 100,000 timers pending to show
memory stays flat as pending timers grow. Each run is bounded: DUE_SECONDS of due timers, then
at most WAIT_SECONDS for the last to fire.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import Connection, func, insert, select

from tests.pg import create_database, durability, postgres_cluster
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata, timers
from tocsin.bridge.timers.rows import Timer
from tocsin.bridge.timers.scheduler import Scheduler

RATE = 1000  # timers falling due per second
DUE_SECONDS = 10
WAIT_SECONDS = 30
LEAD = timedelta(seconds=2)  # the first due timer, after the worker has started


def _noop(conn: Connection, timer: Timer, now: datetime) -> None:
    """Fire without side effects: the benchmark measures the scheduler, not a handler."""


def _insert(store: Store, dues: list[datetime]) -> None:
    now = utcnow()
    rows = [
        {"kind": "bench", "due_at": d, "payload": {}, "created_at": now, "cancelled": False}
        for d in dues
    ]
    with store.begin() as conn:
        for offset in range(0, len(rows), 5000):
            conn.execute(insert(timers), rows[offset : offset + 5000])


def run(url: str, pending: int) -> dict[str, float]:
    """Fill a fresh database, run the scheduler through the due window, return the figures."""
    store = Store(url)
    metadata.create_all(store.engine)
    due_count = RATE * DUE_SECONDS
    # The far-future timers first: filling them must not eat into the due window.
    _insert(store, [utcnow() + timedelta(days=1)] * max(0, pending - due_count))
    start = utcnow() + LEAD
    _insert(store, [start + timedelta(seconds=i / RATE) for i in range(due_count)])
    process = psutil.Process()
    rss_peak = process.memory_info().rss
    worker = Scheduler(store, {"bench": _noop}, poll_interval=0.5)
    worker.start()
    end = time.monotonic() + (start - utcnow()).total_seconds() + DUE_SECONDS + WAIT_SECONDS
    fired = 0
    try:
        while time.monotonic() < end and fired < due_count:
            time.sleep(0.5)
            rss_peak = max(rss_peak, process.memory_info().rss)
            with store.connect() as conn:
                fired = conn.execute(
                    select(func.count()).where(timers.c.fired_at.is_not(None))
                ).scalar_one()
    finally:
        worker.stop()
    with store.connect() as conn:
        query = select(timers.c.lag_seconds).where(timers.c.fired_at.is_not(None))
        lags = sorted(float(lag) for lag in conn.execute(query).scalars())
    store.dispose()
    if len(lags) < 2:
        return {"fired": len(lags), "due": due_count}
    cuts = statistics.quantiles(lags, n=100)
    return {
        "fired": len(lags),
        "due": due_count,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "max_ms": lags[-1] * 1000,
        "rss_mb": rss_peak / 2**20,
    }


def _print(engine: str, pending: int, figures: dict[str, float]) -> None:
    if "p50_ms" not in figures:
        print(
            f"{engine:10} pending {pending:>7,}: fired {figures['fired']:.0f}/{figures['due']:.0f}"
        )
        return
    print(
        f"{engine:10} pending {pending:>7,}: fired {figures['fired']:.0f}/{figures['due']:.0f} "
        f"lag p50 {figures['p50_ms']:7.1f} ms p99 {figures['p99_ms']:7.1f} ms "
        f"max {figures['max_ms']:7.1f} ms | RSS {figures['rss_mb']:.0f} MB",
        flush=True,
    )


def main() -> int:
    """Run on SQLite and PostgreSQL with 10,000 then 100,000 pending timers."""
    print(f"timer lag at {RATE}/s due for {DUE_SECONDS} s (target: p99 < 1000 ms; no peer)")
    status = 0
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-timers-") as tmp:
        for pending in (10_000, 100_000):
            url = f"sqlite:///{Path(tmp) / f'timers-{pending}.db'}"
            figures = run(url, pending)
            _print("sqlite", pending, figures)
            status |= figures["fired"] < figures["due"]
        with postgres_cluster(durable=True) as server:
            print(f"PostgreSQL: {', '.join(durability(server))}", flush=True)
            for pending in (10_000, 100_000):
                figures = run(create_database(server), pending)
                _print("postgresql", pending, figures)
                status |= figures["fired"] < figures["due"]
    return int(status)
