"""A bounded on-disk FIFO of alert batches that survives restarts and crashes mid-write.

Each entry is one file `<sequence>.entry` written through a temporary file, fsync and rename,
so a crash leaves whole entries only; a header with length and CRC32 catches anything else.
Past `max_bytes` the oldest entries are deleted and counted in `dropped_total`.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections import OrderedDict
from pathlib import Path

from tocsin.agent.errors import StorageError
from tocsin.agent.fsutil import fsync_directory, write_atomic

log = logging.getLogger(__name__)
MAGIC = b"tocsin-spool/1"
SUFFIX = ".entry"


def _frame(payload: bytes) -> bytes:
    return b"%s %d %08x\n" % (MAGIC, len(payload), zlib.crc32(payload)) + payload


def _unframe(data: bytes) -> bytes | None:
    header, newline, payload = data.partition(b"\n")
    parts = header.split(b" ")
    if not newline or len(parts) != 3 or parts[0] != MAGIC:
        return None
    if not parts[1].isdigit() or int(parts[1]) != len(payload):
        return None
    return payload if b"%08x" % zlib.crc32(payload) == parts[2] else None


class Spool:
    """Thread-safe FIFO of byte payloads in one directory, bounded by total size."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.dropped_total = 0
        self._lock = threading.Lock()
        self._sizes: OrderedDict[int, int] = OrderedDict()
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            for leftover in directory.glob(".*.tmp"):
                leftover.unlink()
            found = sorted(
                (int(path.stem), path.stat().st_size)
                for path in directory.glob(f"*{SUFFIX}")
                if path.stem.isdigit()
            )
        except OSError as exc:
            raise StorageError(f"{directory}: cannot open the spool: {exc.strerror}") from exc
        self._sizes.update(found)
        self._next = (found[-1][0] + 1) if found else 1

    def _path(self, sequence: int) -> Path:
        return self.directory / f"{sequence:020d}{SUFFIX}"

    @property
    def depth(self) -> int:
        """Return how many entries wait."""
        return len(self._sizes)

    @property
    def size_bytes(self) -> int:
        """Return the bytes the waiting entries take on disk."""
        return sum(self._sizes.values())

    def append(self, payload: bytes) -> int:
        """Store one entry durably and return its sequence number; drop the oldest past the bound."""
        data = _frame(payload)
        with self._lock:
            sequence = self._next
            try:
                write_atomic(self._path(sequence), data)
            except OSError as exc:
                raise StorageError(
                    f"{self.directory}: cannot spool alerts: {exc.strerror}"
                ) from exc
            self._next += 1
            self._sizes[sequence] = len(data)
            self._enforce_bound()
        return sequence

    def _enforce_bound(self) -> None:
        total = sum(self._sizes.values())
        while total > self.max_bytes and len(self._sizes) > 1:
            oldest, size = next(iter(self._sizes.items()))
            self._delete(oldest)
            total -= size
            self.dropped_total += 1
            log.warning("spool over %d bytes: dropped its oldest entry #%d", self.max_bytes, oldest)

    def _delete(self, sequence: int) -> None:
        self._sizes.pop(sequence, None)
        try:
            self._path(sequence).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"{self.directory}: cannot delete entry: {exc.strerror}") from exc

    def peek(self) -> tuple[int, bytes] | None:
        """Return the oldest readable entry; a damaged one is deleted and counted as dropped."""
        with self._lock:
            while self._sizes:
                sequence = next(iter(self._sizes))
                try:
                    payload = _unframe(self._path(sequence).read_bytes())
                except FileNotFoundError:
                    payload = None
                except OSError as exc:
                    raise StorageError(f"{self.directory}: cannot read: {exc.strerror}") from exc
                if payload is not None:
                    return sequence, payload
                log.warning("spool entry #%d is damaged; dropped", sequence)
                self._delete(sequence)
                self.dropped_total += 1
            return None

    def remove(self, sequence: int) -> None:
        """Delete an entry once it has been delivered (or rejected for good)."""
        with self._lock:
            self._delete(sequence)
            try:
                fsync_directory(self.directory)
            except OSError as exc:
                raise StorageError(f"{self.directory}: cannot sync: {exc.strerror}") from exc
