"""The clock's state from adjtimex: offset, error bounds and sync status, read-only."""

from __future__ import annotations

import sys

import pytest

from tests.agent.fake_psutil import failing
from tocsin.agent.collectors.base import Reading
from tocsin.agent.collectors.timex import (
    ESTIMATED_ERROR,
    MAXERROR,
    OFFSET,
    SYNC_STATUS,
    TIME_ERROR,
    Timex,
    TimexCollector,
    kernel_adjtimex,
)


def collect(adjtimex: object) -> dict[str, float]:
    reading = Reading()
    TimexCollector(adjtimex).collect(reading)  # type: ignore[arg-type]
    return {series.name: series.value for series in reading.gauges}


def test_a_synchronised_clock_reports_its_offset_and_errors() -> None:
    assert collect(lambda: Timex(0, -0.0025, 0.1, 0.002)) == {
        OFFSET: -0.0025,
        SYNC_STATUS: 1.0,
        MAXERROR: 0.1,
        ESTIMATED_ERROR: 0.002,
    }


def test_time_error_means_not_synchronised() -> None:
    assert collect(lambda: Timex(TIME_ERROR, 0.0, 16.0, 16.0))[SYNC_STATUS] == 0.0


def test_a_refused_call_is_noted_and_counted() -> None:
    reading = Reading()
    TimexCollector(failing(PermissionError(1, "adjtimex: Operation not permitted"))).collect(  # type: ignore[arg-type]
        reading
    )
    assert (reading.gauges, reading.failures) == ([], 1)
    assert reading.notes == [
        "clock state (adjtimex) unavailable: [Errno 1] adjtimex: Operation not permitted"
    ]


def test_without_adjtimex_nothing_is_exported() -> None:
    assert collect(None) == {}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="adjtimex is Linux's")
def test_the_kernel_answers_a_read_only_call() -> None:
    read = kernel_adjtimex()
    assert read is not None
    timex = read()
    assert 0 <= timex.state <= TIME_ERROR
    assert 0 <= timex.maxerror <= 16.0 and abs(timex.offset) < 1.0
