"""Memory and swap in use, as ratios of what the host has."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import psutil

from tocsin.agent.collectors.base import Reading, attempt
from tocsin.agent.sample import Series

MEMORY_USED = "tocsin_memory_used_ratio"
SWAP_USED = "tocsin_swap_used_ratio"
# /proc/meminfo fields; node_exporter names them node_memory_<field>_bytes, which promtool's
# lint refuses as camelCase, so the agent writes them in snake case.
BYTES = {
    "MemTotal": "tocsin_memory_total_bytes",
    "MemFree": "tocsin_memory_free_bytes",
    "MemAvailable": "tocsin_memory_available_bytes",
    "Buffers": "tocsin_memory_buffers_bytes",
    "Cached": "tocsin_memory_cached_bytes",
    "SwapTotal": "tocsin_swap_total_bytes",
    "SwapFree": "tocsin_swap_free_bytes",
}

HELP = {
    MEMORY_USED: "Fraction of physical memory not available to new work (1 - available/total).",
    SWAP_USED: "Fraction of swap space in use; absent when the host has no swap.",
    **{
        name: f"{field} of /proc/meminfo (node_memory_{field}_bytes)."
        for field, name in BYTES.items()
    },
}

_MEMINFO = re.compile(
    rb"^(MemTotal|MemFree|MemAvailable|Buffers|Cached|SwapTotal|SwapFree):\s+(\d+) kB", re.MULTILINE
)


class MemoryInfo(NamedTuple):
    """Physical memory and swap, in bytes."""

    total: int
    available: int
    swap_total: int
    swap_used: int
    # Every field read from /proc/meminfo, in bytes, by its name there; empty through psutil.
    fields: tuple[tuple[str, int], ...] = ()


def read_memory(path: str = "/proc/meminfo") -> MemoryInfo:
    """Read memory and swap in one pass over /proc/meminfo, or through psutil elsewhere.

    psutil.swap_memory() also parses /proc/vmstat for swap-in/out counts the agent does not
    use; that second file made memory the costliest part of a sample.
    """
    try:
        with open(path, "rb") as file:
            fields = {key: int(kib) * 1024 for key, kib in _MEMINFO.findall(file.read())}
    except FileNotFoundError:
        fields = None
    if fields is not None and b"MemTotal" not in fields:
        # An empty or garbled file (/dev/null mounted over it): psutil would fail on it too.
        raise ValueError(f"{path} has no MemTotal line")
    if fields is None or b"MemAvailable" not in fields or b"SwapFree" not in fields:
        # Not Linux, or a kernel before 3.14 without MemAvailable: psutil estimates it.
        memory, swap = psutil.virtual_memory(), psutil.swap_memory()
        return MemoryInfo(memory.total, memory.available, swap.total, swap.used)
    swap_total = fields[b"SwapTotal"]
    return MemoryInfo(
        fields[b"MemTotal"],
        fields[b"MemAvailable"],
        swap_total,
        swap_total - fields[b"SwapFree"],
        tuple((key.decode(), value) for key, value in fields.items()),
    )


class MemoryCollector:
    """Read memory and swap use; both are gauges, so the first pass has them already."""

    def __init__(self, memory_info: Callable[[], MemoryInfo] = read_memory) -> None:
        self._memory_info = memory_info

    def collect(self, reading: Reading) -> None:
        """Append the memory ratio, and the swap ratio when swap is configured."""
        info = attempt(self._memory_info, "memory", reading)
        if info is None:
            return
        if info.total > 0:
            used = 1.0 - info.available / info.total
            reading.gauges.append(Series(MEMORY_USED, {}, min(1.0, max(0.0, used))))
        for field, value in info.fields:
            reading.gauges.append(Series(BYTES[field], {}, float(value)))
        if info.swap_total > 0:
            swap = info.swap_used / info.swap_total
            reading.gauges.append(Series(SWAP_USED, {}, min(1.0, max(0.0, swap))))
