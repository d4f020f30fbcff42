"""Outbox claim cost in a storm: claiming 200 due rows from a 100,000-row outbox, both databases.

The outbox holds 100,000 rows, one per incident: 50,000 delivered and 50,000 pending and due,
as in a storm's backlog. A worker claims batches of 200 (the delivery worker's batch) in a
transaction each, as its loop does, until CLAIMS batches are taken; a second worker holds the
batch before each claim, so the claim's check for an incident's earlier row held elsewhere
finds rows to look at. Figures: milliseconds per claim (p50, p99) and the process CPU per claim
(less moved by other load). PostgreSQL runs with its durable defaults (fsync on).
Bounded: about a minute per database.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from tests.pg import create_database, postgres_cluster
from tocsin.bridge.notify import queue
from tocsin.bridge.platform.clock import utcnow
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import incidents, metadata, outbox

ROWS = 100_000
BATCH = 200
CLAIMS = 40
LEASE = timedelta(minutes=5)


def _fill(store: Store) -> None:
    """Insert ROWS incidents with one outbox row each: the first half delivered, the rest due."""
    now = utcnow()
    with store.begin() as conn:
        for start in range(0, ROWS, 5000):
            ids = range(start + 1, start + 5001)
            conn.execute(insert(incidents), [_incident(n, now) for n in ids])
            conn.execute(insert(outbox), [_row(n, now, n <= ROWS // 2) for n in ids])
    if store.dialect == "postgresql":
        with store.connect() as conn:
            conn.execute(text("ANALYZE outbox"))  # as autovacuum does after such an insert


def _incident(n: int, now: datetime) -> dict[str, object]:
    return {"id": n, "key": f"k{n}", "title": f"i{n}", "priority": "P1", "status": "triggered",
            "source": "alert", "labels": {}, "annotations": {}, "created_at": now,
            "updated_at": now}  # fmt: skip


def _row(n: int, now: datetime, delivered: bool) -> dict[str, object]:
    queued = now - timedelta(milliseconds=ROWS - n)  # a storm queues a row a millisecond
    row = queue.outbox_row(key=f"bench-{n}", channel="hook", payload={"render": "x"},
                           now=queued, incident_id=n)  # fmt: skip
    if delivered:
        row.update(status="delivered", delivered_at=now)
    return row


def run(url: str) -> tuple[float, float, float]:
    """Fill a fresh database and claim CLAIMS batches; return p50 ms, p99 ms, CPU ms a claim."""
    store = Store(url)
    metadata.create_all(store.engine)
    _fill(store)
    now = utcnow()
    took: list[float] = []
    cpu = 0.0
    for _ in range(CLAIMS):
        with store.begin() as conn:  # another worker holds the next batch meanwhile
            queue.claim(conn, worker="other", now=now, lease=LEASE, limit=BATCH)
        started, started_cpu = time.perf_counter(), time.process_time()
        with store.begin() as conn:
            got = queue.claim(conn, worker="bench", now=now, lease=LEASE, limit=BATCH)
        took.append(time.perf_counter() - started)
        cpu += time.process_time() - started_cpu
        assert len(got) == BATCH, f"claimed {len(got)}"
    store.dispose()
    took.sort()
    return (statistics.median(took) * 1000, took[int(0.99 * len(took))] * 1000,
            cpu / CLAIMS * 1000)  # fmt: skip


def main() -> int:
    """Print the claim cost on SQLite and PostgreSQL."""
    with tempfile.TemporaryDirectory() as tmp:
        results = {"SQLite": run(f"sqlite:///{Path(tmp) / 'claim.db'}")}
    with postgres_cluster(durable=True) as server:
        results["PostgreSQL"] = run(create_database(server))
    for name, (p50, p99, cpu) in results.items():
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{name}: claim {BATCH} of {ROWS:,} rows: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"{cpu:.1f} ms CPU a claim (load {load})")  # fmt: skip
    return 0
