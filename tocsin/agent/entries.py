"""The spool's files: one framed entry per file, written atomically, damaged ones set aside.

Each entry is `<sequence>.entry` (or `<sequence>.critical.entry` when it holds a critical alert,
so the eviction order is known without reading it) written through a temporary file, fsync and
rename; a header with length and CRC32 catches anything else. An entry that fails its check is
moved to `quarantine/` (at most QUARANTINE_KEEP files, oldest deleted first) as evidence of what
went wrong, never silently deleted.
"""

from __future__ import annotations

import contextlib
import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

from tocsin.agent.errors import StorageError
from tocsin.agent.fsutil import fsync_directory, write_atomic

log = logging.getLogger(__name__)
MAGIC = b"tocsin-spool/1"
SUFFIX = ".entry"
CRITICAL = ".critical"
QUARANTINE = "quarantine"
QUARANTINE_KEEP = 50


def frame(payload: bytes) -> bytes:
    """Prefix a payload with the header that proves it whole when read back."""
    return b"%s %d %08x\n" % (MAGIC, len(payload), zlib.crc32(payload)) + payload


def unframe(data: bytes) -> bytes | None:
    """Return the payload of a framed entry, or None when it is damaged."""
    header, newline, payload = data.partition(b"\n")
    parts = header.split(b" ")
    if not newline or len(parts) != 3 or parts[0] != MAGIC:
        return None
    if not parts[1].isdigit() or int(parts[1]) != len(payload):
        return None
    return payload if b"%08x" % zlib.crc32(payload) == parts[2] else None


@dataclass(frozen=True)
class Found:
    """An entry file found on disk: its sequence, whether it is critical, its size and age."""

    sequence: int
    critical: bool
    size: int
    written_at: float


class EntryFiles:
    """The directory of entry files; every OSError leaves as StorageError naming the directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.quarantine = directory / QUARANTINE
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            for leftover in directory.glob(".*.tmp"):
                leftover.unlink()
        except OSError as exc:
            raise StorageError(f"{directory}: cannot open the spool: {exc.strerror}") from exc

    def path(self, sequence: int, critical: bool) -> Path:
        """Return where an entry lives."""
        return self.directory / f"{sequence:020d}{CRITICAL if critical else ''}{SUFFIX}"

    def scan(self) -> list[Found]:
        """Return the entries on disk, oldest first."""
        found = []
        try:
            for path in self.directory.glob(f"*{SUFFIX}"):
                stem, _, kind = path.name[: -len(SUFFIX)].partition(".")
                if stem.isdigit() and kind in ("", CRITICAL[1:]):
                    stat = path.stat()
                    found.append(Found(int(stem), kind != "", stat.st_size, stat.st_mtime))
        except OSError as exc:
            raise StorageError(f"{self.directory}: cannot list the spool: {exc.strerror}") from exc
        return sorted(found, key=lambda entry: entry.sequence)

    def write(self, sequence: int, critical: bool, payload: bytes) -> int:
        """Store one entry durably and return its size on disk."""
        data = frame(payload)
        try:
            write_atomic(self.path(sequence, critical), data)
        except OSError as exc:
            raise StorageError(f"{self.directory}: cannot spool alerts: {exc.strerror}") from exc
        return len(data)

    def probe(self) -> None:
        """Prove an entry can be written now (after a refusal, with nothing waiting to write)."""
        probe = self.directory / "probe.tmp-entry"
        try:
            write_atomic(probe, frame(b""))
            probe.unlink()
        except OSError as exc:
            raise StorageError(f"{self.directory}: cannot spool alerts: {exc.strerror}") from exc

    def read(self, sequence: int, critical: bool) -> bytes | None:
        """Return an entry's payload; a damaged one is quarantined and None returned."""
        path = self.path(sequence, critical)
        try:
            payload = unframe(path.read_bytes())
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"{self.directory}: cannot read: {exc.strerror}") from exc
        if payload is None:
            self.quarantine_entry(sequence, critical)
        return payload

    def delete(self, sequence: int, critical: bool) -> None:
        """Delete an entry (delivered, settled or evicted)."""
        try:
            self.path(sequence, critical).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"{self.directory}: cannot delete entry: {exc.strerror}") from exc

    def sync(self) -> None:
        """Make the deletions so far survive a power cut."""
        try:
            fsync_directory(self.directory)
        except OSError as exc:
            raise StorageError(f"{self.directory}: cannot sync: {exc.strerror}") from exc

    def quarantined(self) -> list[Path]:
        """Return the quarantined files, oldest first."""
        if not self.quarantine.is_dir():
            return []
        return sorted(self.quarantine.iterdir())

    def quarantine_entry(self, sequence: int, critical: bool) -> None:
        """Move a damaged entry aside, keeping only the newest QUARANTINE_KEEP of them."""
        path = self.path(sequence, critical)
        log.warning("spool entry %s is damaged; moved to %s", path.name, self.quarantine)
        try:
            self.quarantine.mkdir(exist_ok=True, mode=0o700)
            path.replace(self.quarantine / path.name)
            for old in self.quarantined()[:-QUARANTINE_KEEP]:
                old.unlink()
        except OSError as exc:
            log.warning("cannot quarantine %s (%s); deleting it", path.name, exc.strerror)
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
