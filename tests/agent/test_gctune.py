"""The garbage collector fitted to the cycle's size, in a child process: it is process-wide."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = (
    "import gc; from tocsin.agent.gctune import settle; default = gc.get_threshold()[0]; "
    "settle({series}); print(gc.get_threshold()[0], default, gc.get_freeze_count() > 0)"
)


@pytest.mark.parametrize(("series", "young"), [(100, None), (2353, 4 * 2353)])
def test_a_large_host_collects_young_objects_once_a_cycle_and_a_small_one_keeps_the_default(
    series: int, young: int | None
) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(series=series)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.split()
    threshold, default, frozen = int(out[0]), int(out[1]), out[2]
    assert threshold == (default if young is None else young)
    assert frozen == "True"
