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
SUFFIX = "-writer"  # the lock file is named as the database, and this


def _open_beside(path: Path, database: Path) -> int:
    """Open (or create) the lock file with the database's mode and owner, as SQLite makes its
    -wal and -shm files: a command run as root must not leave a file the bridge cannot open."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        made = database.stat()
    except FileNotFoundError:
        return fd  # no database yet: SQLite creates it with this process's own mode
    try:
        os.fchmod(fd, made.st_mode & 0o666)
        if os.geteuid() == 0:
            os.fchown(fd, made.st_uid, made.st_gid)
    except OSError:
        pass  # another user's file, made before: opened is all this process needs
    return fd


class WriterLock:
    """A lock for this process's writers (reentrant) that also holds the file's writer lock."""

    def __init__(self, database: Path | None) -> None:
        self._threads = threading.RLock()
        self._depth = 0  # how deep the holding thread's writes nest
        self._database = database
        self._path = database.with_name(database.name + SUFFIX) if database else None
        self._fd: int | None = None
        self._pid = 0  # the process that opened _fd: a forked child opens its own

    def acquire(self, timeout: float) -> bool:
        """Take the lock within `timeout` seconds; return whether it was taken.

        OSError if the lock file cannot be opened; this process's writers are not held then.
        """
        deadline = time.monotonic() + timeout
        if not self._threads.acquire(timeout=timeout):
            return False
        try:
            taken = self._depth > 0 or self._path is None or self._lock_file(deadline)
        except BaseException:
            self._threads.release()
            raise
        if not taken:
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
            assert self._path is not None and self._database is not None
            self._fd = _open_beside(self._path, self._database)
            self._pid = os.getpid()
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(POLL_SECONDS)
