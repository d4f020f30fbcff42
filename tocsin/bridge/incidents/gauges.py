"""Fill tocsin_bridge_incidents_open from the database at each scrape."""

from __future__ import annotations

from sqlalchemy import func, select

from tocsin.bridge.errors import StoreUnavailable
from tocsin.bridge.incidents.lifecycle import OPEN_STATUSES
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import incidents


def register_open_gauge(metrics: Metrics, store: Store) -> None:
    """Count open incidents by priority and status whenever /metrics is scraped."""

    def refresh() -> None:
        query = (
            select(incidents.c.priority, incidents.c.status, func.count())
            .where(incidents.c.status.in_(OPEN_STATUSES))
            .group_by(incidents.c.priority, incidents.c.status)
        )
        try:
            with store.connect() as conn:
                counts = conn.execute(query).all()
        except StoreUnavailable:
            return
        metrics.incidents_open.clear()
        for priority, status, count in counts:
            metrics.incidents_open.labels(priority=priority, status=status).set(count)

    metrics.on_scrape(refresh)
