"""Stand-ins for the psutil functions the sampler calls, scripted pass by pass."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple, TypeVar

from tocsin.agent.collectors.memory import MemoryInfo

T = TypeVar("T")


class CpuTimes(NamedTuple):
    user: float
    system: float
    idle: float
    iowait: float
    guest: float = 0.0


class DiskIO(NamedTuple):
    read_count: int
    write_count: int
    read_bytes: int
    write_bytes: int
    busy_time: int


class BsdDiskIO(NamedTuple):
    """What psutil reports on platforms without a busy time."""

    read_count: int
    write_count: int
    read_bytes: int
    write_bytes: int


class NetIO(NamedTuple):
    bytes_sent: int
    bytes_recv: int


class Partition(NamedTuple):
    device: str
    mountpoint: str
    fstype: str


class Usage(NamedTuple):
    used: int
    free: int


def scripted(values: Iterable[T]) -> Callable[[], T]:
    """Return a function giving the next value each call, repeating the last one."""
    items: Iterator[T] = iter(values)
    last: list[T] = []

    def call() -> T:
        for value in items:
            last[:] = [value]
            break
        return last[0]

    return call


def failing(exc: Exception) -> Callable[..., object]:
    """Return a function that raises what a host without the source would raise."""

    def call(*args: object) -> object:
        raise exc

    return call


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class HangingUsage:
    """disk_usage that blocks on `hung` mounts until released, like a dead NFS server."""

    def __init__(self, hung: set[str]) -> None:
        self.hung = hung
        self.usage = Usage(used=25, free=75)
        self.release = threading.Event()
        self.calls: list[str] = []

    def __call__(self, mountpoint: str) -> Usage:
        self.calls.append(mountpoint)
        if mountpoint in self.hung:
            self.release.wait(10)
        return self.usage


MEMORY = MemoryInfo(total=1000, available=250, swap_total=0, swap_used=0)
