"""glibc's allocator is told to keep few arenas and to hand free pages back."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

# Frees 200 MiB of heap blocks while a few stay in use between them: without a trim the pages
# stay resident.
SCRIPT = """
import psutil
from tocsin.bridge.platform import memory
assert memory.limit_arenas()
blocks = [bytearray(4096) for _ in range(50_000)]
kept = blocks[::1000]
del blocks
before = psutil.Process().memory_info().rss
assert memory.trim(None) == 1
print((before - psutil.Process().memory_info().rss) >> 20)
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt/malloc_trim are glibc's")
def test_freed_heap_goes_back_to_the_system_when_trimmed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 100  # MiB handed back


SETTLE = """
import gc
from tocsin.bridge.platform import memory
memory.settle()
print(gc.get_freeze_count() > 10_000, gc.get_threshold() == memory.GC_THRESHOLDS)
"""


def test_settling_leaves_the_start_up_heap_out_of_collections() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SETTLE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
