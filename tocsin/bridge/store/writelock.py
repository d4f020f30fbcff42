"""One writer at a time across processes on one SQLite file, handed over at once.

SQLite lets one transaction write; a second process that finds the file locked waits in
SQLite's busy handler, which sleeps 1, 2, 5, 10 ... up to 100 ms between looks, so under a
steady stream of writes the waiting process mostly sleeps while the lock is free (two worker
processes paging a storm took fewer pages a second than one). Writers instead queue on an
advisory lock on a file beside the database (`DB-writer`), looked at every quarter of a
millisecond, and start their transaction only once they hold it: the lock changes hands
within that time, and SQLite's own lock is then free when they ask for it.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

POLL_SECONDS = 0.00025


class WriterLock:
    """A lock for this process's writers (reentrant) that also holds the file's writer lock."""

    def __init__(self, database: Path | None) -> None:
        self._threads = threading.RLock()
        self._depth = 0  # how deep the holding thread's writes nest
        self._path = database.with_name(database.name + "-writer") if database else None
        self._fd: int | None = None
        self._pid = 0  # the process that opened _fd: a forked child opens its own

    def acquire(self, timeout: float) -> bool:
        """Take the lock within `timeout` seconds; return whether it was taken."""
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout):
            return False
        if self._depth == 0 and self._path is not None and not self._lock_file(deadline):
            self._threads.release()
            return False
        self._depth += 1
        return True

    def release(self) -> None:
        """Give the lock back; the outermost release lets other processes write."""
        self._depth -= 1
        if self._depth == 0 and self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def _lock_file(self, deadline: float) -> bool:
        if self._fd is None or self._pid != os.getpid():
            # A lock on a descriptor inherited across fork() would be shared with the parent.
            assert self._path is not None
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(POLL_SECONDS)
