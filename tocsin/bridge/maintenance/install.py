"""Plug maintenance windows into the runtime: the ingest hold, the release timer, the gauges."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from tocsin.bridge.errors import StoreUnavailable
from tocsin.bridge.maintenance.hold import KIND, Holder, Release
from tocsin.bridge.maintenance.store import windows
from tocsin.bridge.server.runtime import Runtime
from tocsin.bridge.timers.scheduler import Scheduler


def install(runtime: Runtime) -> None:
    """Hold covered alerts at ingestion and release them at their window's end."""
    registry = runtime.metrics.registry
    suppressed = Counter(
        "tocsin_bridge_maintenance_alerts_suppressed_total",
        "New alerts a maintenance window held back instead of opening an incident.",
        registry=registry,
    )
    active = Gauge(
        "tocsin_bridge_maintenance_windows_active",
        "Maintenance windows open now (stored and the policy's weekly ones).",
        registry=registry,
    )
    scheduler = next(w for w in runtime.workers if isinstance(w, Scheduler))
    runtime.hold = Holder(lambda: runtime.policy, suppressed, scheduler.wake)
    scheduler.handlers[KIND] = Release(
        lambda: runtime.policy, runtime.hooks, lambda: runtime.config.clock_skew_tolerance
    )

    def refresh() -> None:
        now = runtime.clock()
        try:
            with runtime.store.connect() as conn:
                found = windows(conn, runtime.policy, now)
        except StoreUnavailable:
            return
        active.set(sum(1 for window in found if window.open_span(now) is not None))

    runtime.metrics.on_scrape(refresh)
