"""Commit a request's alerts in one transaction, retried when replicas race on the same group."""

from __future__ import annotations

import time
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError

from bridge.errors import StoreUnavailable
from bridge.ingest.apply import Applied, apply_alerts
from bridge.ingest.parse import Alert
from bridge.runtime import Runtime

ATTEMPTS = 3


def ingest(runtime: Runtime, batch: Sequence[Alert], route: str) -> Applied:
    """Store a batch durably and return what it did; only then may the sender hear 2xx."""
    started = time.perf_counter()
    for attempt in range(ATTEMPTS):
        try:
            # Concurrent requests share one transaction and one fsync (group commit); each
            # returns only once the commit holding its alerts is durable.
            applied = runtime.store.write_shared(
                lambda conn: apply_alerts(
                    conn, runtime.hooks, runtime.policy, batch, runtime.clock()
                )
            )
            break
        except IntegrityError as exc:
            # Another replica opened the same group's incident first: redo against its row.
            if attempt == ATTEMPTS - 1:
                raise StoreUnavailable(
                    "concurrent writers keep conflicting on the same alerts; retry",
                    runtime.store.retry_after,
                ) from exc
    runtime.metrics.alerts_received.labels(route=route).inc(len(batch))
    runtime.metrics.ingest_duration.observe(time.perf_counter() - started)
    return applied
