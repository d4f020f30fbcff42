"""Read filesystem usage on a worker thread, so a hung mount costs one timeout, once.

statvfs() on a dead NFS server or a wedged FUSE daemon blocks in the kernel and cannot be
interrupted. The filesystem collector therefore hands the calls for such filesystems (local
block-device filesystems answer from memory and are read directly) to a worker thread. Each
pass collects the
answers to the reads started at the end of the previous pass (the first pass waits for its own)
and starts the reads for the next one, so in steady state sampling never waits on a filesystem:
usage is at most one interval old, which is fine for something that fills over hours.

A read still unanswered `timeout` seconds after it started marks its mount stuck. The stuck call
keeps its worker, which exits once the call returns; a fresh worker serves the other mounts, and
the stuck mount is not asked again until its call has come back.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from tocsin.agent.collectors.base import UNAVAILABLE

log = logging.getLogger(__name__)


class DiskUsage(Protocol):
    """The fields of psutil.disk_usage() the filesystem collector reads."""

    @property
    def used(self) -> int: ...
    @property
    def free(self) -> int: ...


class FsUsage(NamedTuple):
    """One statvfs answer: psutil's used and free (free to unprivileged users), and the rest."""

    used: int
    free: int
    size: int
    free_all: int
    files: int
    files_free: int
    readonly: bool


def read_statvfs(mountpoint: str) -> FsUsage:
    """Read a filesystem's space, inodes and read-only flag in one statvfs call."""
    stat = os.statvfs(mountpoint)
    size = stat.f_blocks * stat.f_frsize
    free_all = stat.f_bfree * stat.f_frsize
    return FsUsage(
        used=size - free_all,
        free=stat.f_bavail * stat.f_frsize,
        size=size,
        free_all=free_all,
        files=stat.f_files,
        files_free=stat.f_ffree,
        readonly=bool(stat.f_flag & os.ST_RDONLY),
    )


def reason(exc: BaseException) -> str:
    """Return why statvfs failed, the same words each time (so it is logged once)."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


class _Batch:
    """The mounts one pass asked for, and what the worker has answered so far."""

    def __init__(self, mountpoints: Sequence[str], started: float) -> None:
        self.mountpoints = mountpoints
        self.started = started
        self.results: dict[str, DiskUsage] = {}
        self.errors: dict[str, str] = {}
        self.current: str | None = None
        self.expired = False
        self.lock = threading.Lock()
        self.done = threading.Event()


class UsageReader:
    """Read the usage of mounts on a worker thread, giving up on a read after `timeout` seconds.

    Not safe for concurrent `read` calls: one sampler owns one reader.
    """

    def __init__(
        self,
        disk_usage: Callable[[str], DiskUsage],
        timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._disk_usage = disk_usage
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._stuck: set[str] = set()
        self._jobs: queue.SimpleQueue[_Batch | None] | None = None
        self._pending: _Batch | None = None
        # Mounts whose statvfs failed (e.g. permission denied) in the batch `read` returned last.
        self.errors: dict[str, str] = {}

    @property
    def stuck(self) -> frozenset[str]:
        """The mounts whose last call has not come back yet."""
        with self._lock:
            return frozenset(self._stuck)

    def read(self, mountpoints: Sequence[str]) -> dict[str, DiskUsage]:
        """Return the usage read since the last pass (or now, the first time); start the next."""
        batch = self._pending or self._start(mountpoints)
        if not batch.done.is_set():
            batch.done.wait(max(0.0, batch.started + self._timeout - self._clock()))
            if not batch.done.is_set():
                self._expire(batch)
        with batch.lock:
            results = dict(batch.results)
            self.errors = dict(batch.errors)
        self._pending = self._start(mountpoints)
        return results

    def close(self) -> None:
        """Let the current worker exit once it is idle."""
        if self._jobs is not None:
            self._jobs.put(None)
            self._jobs = None
        self._pending = None

    def _start(self, mountpoints: Sequence[str]) -> _Batch:
        with self._lock:
            todo = [mountpoint for mountpoint in mountpoints if mountpoint not in self._stuck]
        batch = _Batch(todo, self._clock())
        if not todo:
            batch.done.set()
            return batch
        if self._jobs is None:
            self._jobs = queue.SimpleQueue()
            worker = threading.Thread(
                target=self._work, args=(self._jobs,), name="tocsin-statfs", daemon=True
            )
            worker.start()
        self._jobs.put(batch)
        return batch

    def _expire(self, batch: _Batch) -> None:
        """Stop the batch; the mount still in progress is marked stuck and keeps the worker."""
        with batch.lock:
            batch.expired = True
            hung = batch.current
            if hung is not None:
                with self._lock:
                    self._stuck.add(hung)
        if hung is not None:
            # The sampler reports the stuck mount (a metric, a note logged when it appears).
            self._jobs = None

    def _recovered(self, mountpoint: str) -> None:
        with self._lock:
            self._stuck.discard(mountpoint)
        log.warning("filesystem %s answers statvfs again", mountpoint)

    def _work(self, jobs: queue.SimpleQueue[_Batch | None]) -> None:
        while (batch := jobs.get()) is not None:
            for mountpoint in batch.mountpoints:
                with batch.lock:
                    if batch.expired:
                        break
                    batch.current = mountpoint
                error = None
                try:
                    usage: DiskUsage | None = self._disk_usage(mountpoint)
                except UNAVAILABLE as exc:
                    usage, error = None, reason(exc)
                with batch.lock:
                    batch.current = None
                    late = batch.expired
                    if usage is not None and not late:
                        batch.results[mountpoint] = usage
                    elif error is not None and not late:
                        batch.errors[mountpoint] = error
                if late:
                    # This call outlived its batch and was marked stuck; others have a new worker.
                    self._recovered(mountpoint)
                    return
            batch.done.set()
