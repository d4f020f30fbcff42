"""Taking a paging storm's alerts: the bridge's CPU per new alert from the request body to the commit.

bench/bridge_paging.py's storm measures intake and delivery together. This runs the intake
alone, in one process and without HTTP: SENDERS threads each hand the ingest path (JSON
decoding, parsing, ingest and its group commit) requests of BATCH new alerts, each opening its
own P1 incident whose first step pages one webhook channel (bench/bridge_paging.py's policy),
so every alert writes its incident, alert, clock, events and page. The collector is settled as
the server settles it once started. Figures: process CPU per alert (all threads), best of
ROUNDS, on SQLite (synchronous=full) and PostgreSQL (durable), with the load average; each
round checks that every alert opened its incident and queued its page. No peer: Alertmanager's
CPU per page, intake and delivery together, is in bench/bridge_paging.py. Bounded: seconds.
"""

from __future__ import annotations

import gc
import json
import os
import tempfile
import threading
import time

from sqlalchemy import func, select

from bench.bridge_paging import POLICY
from tests.bridge.helpers import make_runtime
from tests.pg import create_database, postgres_cluster
from tocsin.bridge.ingest.parse import load_json, parse_v2
from tocsin.bridge.ingest.service import ingest
from tocsin.bridge.platform import memory
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import incidents, outbox

FULL = os.environ.get("TOCSIN_BENCH_FULL") == "1"
ALERTS = 20_000 if FULL else 5_000  # a round's alerts
ROUNDS = 3
BATCH = 100
SENDERS = 4


def _bodies(prefix: str) -> list[bytes]:
    return [
        json.dumps(
            [
                {"labels": {"alertname": "BenchPage", "instance": f"{prefix}-{start + n}",
                            "severity": "critical"}}
                for n in range(BATCH)
            ]
        ).encode()
        for start in range(0, ALERTS, BATCH)
    ]  # fmt: skip


def _take(runtime: Runtime, body: bytes) -> None:
    now = runtime.clock()
    ingest(runtime, parse_v2(load_json(body), now, BATCH).alerts, "v2", "bench", now)


def _round(runtime: Runtime, prefix: str) -> float:
    """Send one round's requests from SENDERS threads; return the process CPU per alert (us)."""
    bodies = _bodies(prefix)
    threads = [
        threading.Thread(target=lambda mine=bodies[n::SENDERS]: [_take(runtime, b) for b in mine])
        for n in range(SENDERS)
    ]
    started = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (time.process_time() - started) / len(bodies) / BATCH * 1e6


def _counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.store.connect() as conn:
        opened = conn.execute(select(func.count()).select_from(incidents)).scalar_one()
        pages = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    return int(opened), int(pages)


def measure(name: str, url: str) -> float:
    """Print and return the best round's CPU per alert on the database at `url`."""
    runtime = make_runtime(url, clock=utcnow, policy=POLICY.format(port=9))  # never posted to
    thresholds = gc.get_threshold()
    try:
        _round(runtime, "warm")
        memory.settle()
        best = float("inf")
        for n in range(ROUNDS):
            before = _counts(runtime)
            best = min(best, _round(runtime, f"r{n}"))
            opened, pages = (a - b for a, b in zip(_counts(runtime), before, strict=True))
            if (opened, pages) != (ALERTS, ALERTS):
                raise RuntimeError(f"{name}: {opened} incidents, {pages} pages for {ALERTS}")
    finally:
        runtime.store.dispose()
        gc.unfreeze()  # the benchmarks after this one run with the collector as they found it
        gc.set_threshold(*thresholds)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(
        f"{name:<12} {best:6.0f} us CPU a new alert (intake in one process, best of "
        f"{ROUNDS} rounds of {ALERTS:,} in batches of {BATCH} from {SENDERS}); load {load}",
        flush=True,
    )
    return best


def main() -> int:
    """Measure intake on SQLite and PostgreSQL."""
    with tempfile.TemporaryDirectory(prefix="tocsin-bench-intake-") as tmp:
        measure("SQLite", f"sqlite:///{tmp}/tocsin.db")
    with postgres_cluster(durable=True) as server:
        measure("PostgreSQL", create_database(server))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
