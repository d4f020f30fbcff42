"""Build maintenance windows for the runtime: the ingest hold, the release timer, the gauges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from prometheus_client import Counter, Gauge

from tocsin.bridge.errors import StoreUnavailable
from tocsin.bridge.incidents.events import EventHook
from tocsin.bridge.maintenance.hold import KIND, Holder, Release
from tocsin.bridge.maintenance.store import windows
from tocsin.bridge.platform.clock import Clock
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.store.db import Store
from tocsin.bridge.timers.scheduler import Scheduler


def install(
    scheduler: Scheduler,
    store: Store,
    metrics: Metrics,
    policy: Callable[[], Policy],
    hooks: list[EventHook],
    clock: Clock,
    skew_tolerance: Callable[[], timedelta],
) -> Holder:
    """Return the hold of covered alerts at ingestion; release them at their window's end.

    `policy` and `skew_tolerance` are read at each use (a reload replaces the config whole).
    """
    registry = metrics.registry
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
    hold = Holder(policy, suppressed, scheduler.wake)
    scheduler.handlers[KIND] = Release(policy, hooks, skew_tolerance)

    def refresh() -> None:
        now = clock()
        try:
            with store.connect() as conn:
                found = windows(conn, policy(), now)
        except StoreUnavailable:
            return
        active.set(sum(1 for window in found if window.open_span(now) is not None))

    metrics.on_scrape(refresh)
    return hold
