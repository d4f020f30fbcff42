"""Warn, on the log and on /metrics, when a calendar counts a year its country data does not cover."""

from __future__ import annotations

import logging
from collections.abc import Callable

from prometheus_client import Gauge

from tocsin.bridge.platform.clock import Clock
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.model import Policy
from tocsin.bridge.timers.calendar import data_missing, years_in_use

log = logging.getLogger(__name__)


def install(policy: Callable[[], Policy], clock: Clock, metrics: Metrics) -> None:
    """Export tocsin_bridge_calendar_data_missing{calendar,year}; log each gap once, at start.

    `policy` is read at each scrape: a reload replaces the policy whole.
    """
    gauge = Gauge(
        "tocsin_bridge_calendar_data_missing",
        "1 when a calendar in use for a year has no confirmed country holiday data for it "
        "(the holidays package lacks that year's published schedule), else 0.",
        ["calendar", "year"],
        registry=metrics.registry,
    )
    warned: set[tuple[str, int]] = set()

    def refresh() -> None:
        now = clock()
        calendars = policy().calendars
        missing = set(data_missing(calendars, now))
        gauge.clear()
        for name, calendar in calendars.items():
            if calendar.country is None:
                continue
            for year in years_in_use(now):
                gauge.labels(calendar=name, year=str(year)).set(1 if (name, year) in missing else 0)
        for name, year in sorted(missing - warned):
            calendar = calendars[name]
            log.warning(
                "calendar %r: no confirmed %s holiday data for %d; holidays and make-up working "
                "days of that year are guessed from fixed dates: list them under the calendar's "
                "'holidays' and 'workdays', or upgrade the holidays package",
                name,
                calendar.country,
                year,
            )
        warned.update(missing)

    refresh()
    metrics.on_scrape(refresh)
