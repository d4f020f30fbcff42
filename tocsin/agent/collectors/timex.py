"""The kernel's view of the clock: offset, error bounds and whether NTP keeps it synchronised.

Read with adjtimex(2) in read-only mode (modes = 0), as node_exporter's timex collector does;
no privilege is needed. Absent on systems without adjtimex: the collector then exports nothing.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable
from typing import NamedTuple

from tocsin.agent.collectors.base import Reading, attempt
from tocsin.agent.sample import Series

OFFSET = "tocsin_timex_offset_seconds"
SYNC_STATUS = "tocsin_timex_sync_status"
MAXERROR = "tocsin_timex_maxerror_seconds"
ESTIMATED_ERROR = "tocsin_timex_estimated_error_seconds"

HELP = {
    OFFSET: "Time offset between the local clock and its time source, as the kernel knows it.",
    SYNC_STATUS: "1 when the kernel counts the clock as synchronised (adjtimex not TIME_ERROR).",
    MAXERROR: "Maximum error of the clock the kernel assumes, in seconds.",
    ESTIMATED_ERROR: "Estimated error of the clock, in seconds.",
}

TIME_ERROR = 5  # adjtimex's answer while the clock is not synchronised
STA_NANO = 0x2000  # offset is in nanoseconds, not microseconds


class Timex(NamedTuple):
    """What adjtimex answered, in seconds."""

    state: int
    offset: float
    maxerror: float
    esterror: float


class _Timeval(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_usec", ctypes.c_long)]


class _Timex(ctypes.Structure):
    """struct timex of <sys/timex.h>, 64-bit time_t."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time", _Timeval),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_reserved", ctypes.c_int * 11),
    ]


def kernel_adjtimex() -> Callable[[], Timex] | None:
    """Return a reader of the kernel's clock state, or None where adjtimex does not exist."""
    if not sys.platform.startswith("linux"):
        return None
    call = getattr(ctypes.CDLL(None, use_errno=True), "adjtimex", None)
    if call is None:
        return None
    call.argtypes = [ctypes.POINTER(_Timex)]
    call.restype = ctypes.c_int

    def read() -> Timex:
        buffer = _Timex()  # modes = 0: read only, whatever the process may do
        state = call(ctypes.byref(buffer))
        if state < 0:
            code = ctypes.get_errno()
            raise OSError(code, f"adjtimex: {os.strerror(code)}")
        scale = 1e9 if buffer.status & STA_NANO else 1e6
        return Timex(state, buffer.offset / scale, buffer.maxerror / 1e6, buffer.esterror / 1e6)

    return read


class TimexCollector:
    """Export the clock's offset, error bounds and sync status."""

    def __init__(self, adjtimex: Callable[[], Timex] | None) -> None:
        self._adjtimex = adjtimex

    def collect(self, reading: Reading) -> None:
        """Append the four clock gauges, or nothing where the kernel has no adjtimex."""
        if self._adjtimex is None:
            return
        timex = attempt(self._adjtimex, "clock state (adjtimex)", reading)
        if timex is None:
            return
        gauges = reading.gauges
        gauges.append(Series(OFFSET, {}, timex.offset))
        gauges.append(Series(SYNC_STATUS, {}, 0.0 if timex.state == TIME_ERROR else 1.0))
        gauges.append(Series(MAXERROR, {}, timex.maxerror))
        gauges.append(Series(ESTIMATED_ERROR, {}, timex.esterror))
