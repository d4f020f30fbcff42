"""Warn, on the log and on /metrics, when a calendar counts a year its country data does not cover."""

from __future__ import annotations

import logging

from prometheus_client import Gauge

from tocsin.bridge.server.runtime import Runtime
from tocsin.bridge.sla.calendar import data_missing, years_in_use

log = logging.getLogger(__name__)


def install(runtime: Runtime) -> None:
    """Export tocsin_bridge_calendar_data_missing{calendar,year}; log each gap once, at start."""
    gauge = Gauge(
        "tocsin_bridge_calendar_data_missing",
        "1 when a calendar in use for a year has no confirmed country holiday data for it "
        "(the holidays package lacks that year's published schedule), else 0.",
        ["calendar", "year"],
        registry=runtime.metrics.registry,
    )
    warned: set[tuple[str, int]] = set()

    def refresh() -> None:
        now = runtime.clock()
        calendars = runtime.policy.calendars  # the live policy: a reload replaces it whole
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
    runtime.metrics.on_scrape(refresh)
