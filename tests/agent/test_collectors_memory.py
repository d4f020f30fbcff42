from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.fake_psutil import failing
from tocsin.agent.collectors.base import Reading
from tocsin.agent.collectors.memory import (
    MEMORY_USED,
    SWAP_USED,
    MemoryCollector,
    MemoryInfo,
    read_memory,
)

MEMINFO = """MemTotal:        1000 kB
MemFree:          100 kB
MemAvailable:     250 kB
Cached:           300 kB
SwapTotal:        400 kB
SwapFree:         300 kB
"""


def gauges(info: MemoryInfo) -> dict[str, float]:
    reading = Reading()
    MemoryCollector(lambda: info).collect(reading)
    return {s.name: s.value for s in reading.gauges}


def test_memory_used_is_what_is_not_available() -> None:
    assert gauges(MemoryInfo(1000, 250, 400, 100)) == {MEMORY_USED: 0.75, SWAP_USED: 0.25}


def test_host_without_swap_has_no_swap_gauge() -> None:
    assert SWAP_USED not in gauges(MemoryInfo(1000, 250, 0, 0))


def test_meminfo_is_read_in_one_pass(tmp_path: Path) -> None:
    path = tmp_path / "meminfo"
    path.write_text(MEMINFO)
    info = read_memory(str(path))
    assert info[:4] == (1024000, 256000, 409600, 102400)
    assert dict(info.fields)["Cached"] == 300 * 1024


def test_without_meminfo_psutil_answers(tmp_path: Path) -> None:
    info = read_memory(str(tmp_path / "absent"))
    assert info.total > 0
    assert 0 <= info.available <= info.total


@pytest.mark.parametrize("exc", [OSError("no /proc"), RuntimeError("unsupported")])
def test_unreadable_memory_is_noted(exc: Exception) -> None:
    reading = Reading()
    MemoryCollector(failing(exc)).collect(reading)  # type: ignore[arg-type]
    assert reading.gauges == []
    assert reading.notes[0].startswith("memory unavailable")
