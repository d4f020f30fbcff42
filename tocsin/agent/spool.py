"""The bounded queue of alert transitions that survives restarts, full disks and long outages.

Each `append` stores a batch of transitions as one or two entries (critical alerts apart from
the rest) through `EntryFiles`. What it keeps when it cannot keep everything:
- past `max_bytes` the oldest non-critical entry goes first; a critical one only when nothing
  else is left to drop;
- a resolved transition settles its own firing transition still waiting (same labels and
  startsAt): the firing one is never sent, so a replay reports a finished problem as resolved,
  with its real times, instead of paging for it; an entry whose transitions are all settled is
  deleted at once, which frees room before anything must be dropped;
- when the disk refuses a write (ENOSPC) the entry waits in memory, bounded by `memory_bytes`,
  and is written when room returns; past the bound the oldest non-critical one is dropped;
- a damaged entry is quarantined (see entries.py).
Every drop is counted by reason in `dropped` (entries) and `alerts_dropped` (alerts).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tocsin.agent.entries import EntryFiles, frame
from tocsin.agent.errors import StorageError
from tocsin.agent.push import WireAlert, decode_batch, encode_batch

log = logging.getLogger(__name__)
DEFAULT_MEMORY_BYTES = 4 * 1024**2
Key = tuple[object, ...]


def transition_key(alert: WireAlert) -> Key:
    """Identify one transition: the alert's labels, its startsAt, and its end (None: firing)."""
    return (alert.labels, alert.starts_at, alert.ends_at)


def is_critical(alert: WireAlert) -> bool:
    """Tell whether the alert is one the spool keeps above all others."""
    return dict(alert.labels).get("severity") == "critical"


@dataclass
class Entry:
    """One stored batch: where it is, what it holds, and (while the disk is full) its bytes."""

    sequence: int
    critical: bool
    size: int
    written_at: float
    keys: tuple[Key, ...]
    payload: bytes | None = None


def _all_but_newest(entries: OrderedDict[int, Entry]) -> Iterable[Entry]:
    """Yield every entry but the newest, which is never dropped for its own room."""
    newest = next(reversed(entries))
    return (entry for sequence, entry in entries.items() if sequence != newest)


def choose_victim(entries: Iterable[Entry]) -> Entry | None:
    """Pick the entry to drop: the oldest non-critical one, else the oldest of all."""
    first = None
    for entry in entries:
        if not entry.critical:
            return entry
        first = first or entry
    return first


class Spool:
    """Thread-safe queue of alert transitions in one directory, bounded by total size."""

    def __init__(
        self,
        directory: Path,
        max_bytes: int,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.memory_bytes = memory_bytes
        self.dropped: Counter[str] = Counter()
        self.alerts_dropped: Counter[str] = Counter()
        self.collapsed_total = 0
        self._clock = clock
        self._files = EntryFiles(directory)
        self._lock = threading.RLock()
        self._entries: OrderedDict[int, Entry] = OrderedDict()
        self._held: OrderedDict[int, Entry] = OrderedDict()
        self._bytes = 0
        self._holders: dict[Key, set[int]] = {}
        self._settled: set[Key] = set()
        self.refused: StorageError | None = None
        self._next = 1
        for found in self._files.scan():
            self._next = found.sequence + 1
            payload = self._files.read(found.sequence, found.critical)
            alerts = self._decode(found.sequence, found.critical, payload)
            if alerts is None:
                self.dropped["damaged"] += 1
                continue
            entry = Entry(
                found.sequence,
                found.critical,
                found.size,
                found.written_at,
                tuple(transition_key(alert) for alert in alerts),
            )
            self._index(entry, alerts)
        self._files.sync()

    @property
    def depth(self) -> int:
        """Return how many entries wait."""
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        """Return the bytes the waiting entries take, on disk or held in memory."""
        return self._bytes

    @property
    def memory_held(self) -> int:
        """Return how many entries wait in memory because the disk refused them."""
        return len(self._held)

    @property
    def dropped_total(self) -> int:
        """Return how many entries were dropped, whatever the reason."""
        return sum(self.dropped.values())

    def pending_alerts(self) -> int:
        """Return how many transitions wait to be sent."""
        with self._lock:
            return sum(
                key not in self._settled for entry in self._entries.values() for key in entry.keys
            )

    def oldest_written_at(self) -> float | None:
        """Return when the oldest waiting entry was stored, None when nothing waits."""
        with self._lock:
            return next((entry.written_at for entry in self._entries.values()), None)

    def append(self, alerts: Sequence[WireAlert]) -> None:
        """Store transitions (criticals apart), settle the firing ones they resolve, keep bounds."""
        groups = [[a for a in alerts if not is_critical(a)], [a for a in alerts if is_critical(a)]]
        with self._lock:
            for critical, group in enumerate(groups):
                if group:
                    self._add(bool(critical), group)
            self.flush()
            self._enforce_bounds()

    def _add(self, critical: bool, alerts: list[WireAlert]) -> None:
        payload = encode_batch(alerts)
        keys = tuple(transition_key(alert) for alert in alerts)
        entry = Entry(self._next, critical, len(frame(payload)), self._clock(), keys, payload)
        self._next += 1
        self._index(entry, alerts)

    def _index(self, entry: Entry, alerts: Sequence[WireAlert]) -> None:
        self._entries[entry.sequence] = entry
        self._bytes += entry.size
        if entry.payload is not None:
            self._held[entry.sequence] = entry
        for key in entry.keys:
            self._holders.setdefault(key, set()).add(entry.sequence)
        superseded = [
            (alert.labels, alert.starts_at, None) for alert in alerts if alert.ends_at is not None
        ]
        settled = [key for key in superseded if key in self._holders and key not in self._settled]
        if settled:
            self.collapsed_total += len(settled)
            self.settle(settled)

    def flush(self) -> None:
        """Write the entries held in memory, oldest first, until the disk refuses one."""
        with self._lock:
            if self.refused is not None and not self._held:
                try:
                    self._files.probe()
                except StorageError as exc:
                    self.refused = exc
                    return
                log.warning("%s has room again", self.directory)
                self.refused = None
            for entry in list(self._held.values()):
                assert entry.payload is not None
                try:
                    size = self._files.write(entry.sequence, entry.critical, entry.payload)
                except StorageError as exc:
                    if self.refused is None:
                        log.warning("%s; holding alerts in memory until it has room", exc)
                    self.refused = exc
                    return
                self._bytes += size - entry.size
                entry.size, entry.payload = size, None
                del self._held[entry.sequence]
                if self.refused is not None:
                    log.warning(
                        "%s has room again; alerts held in memory are spooled", self.directory
                    )
                    self.refused = None

    def _enforce_bounds(self) -> None:
        while self._bytes > self.max_bytes and len(self._entries) > 1:
            self._drop(choose_victim(_all_but_newest(self._entries)), "full")
        while len(self._held) > 1:
            if sum(entry.size for entry in self._held.values()) <= self.memory_bytes:
                break
            self._drop(choose_victim(_all_but_newest(self._held)), "no_space")

    def _drop(self, entry: Entry | None, reason: str) -> None:
        if entry is None:
            return
        lost = sum(key not in self._settled for key in entry.keys)
        self.dropped[reason] += 1
        self.alerts_dropped[reason] += lost
        log.warning(
            "spool %s (%s): dropped entry #%d with %d alert(s)%s",
            self.directory,
            "over its size bound" if reason == "full" else "disk full, memory bound reached",
            entry.sequence,
            lost,
            ", critical" if entry.critical else "",
        )
        self._remove(entry)

    def _remove(self, entry: Entry, delete_file: bool = True) -> None:
        del self._entries[entry.sequence]
        self._bytes -= entry.size
        self._held.pop(entry.sequence, None)
        for key in entry.keys:
            holders = self._holders.get(key)
            if holders is not None:
                holders.discard(entry.sequence)
                if not holders:
                    del self._holders[key]
                    self._settled.discard(key)
        if delete_file and entry.payload is None:
            self._files.delete(entry.sequence, entry.critical)

    def _decode(
        self, sequence: int, critical: bool, payload: bytes | None
    ) -> list[WireAlert] | None:
        if payload is None:
            return None
        try:
            return decode_batch(payload)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("spool entry #%d cannot be read as alerts: %s", sequence, exc)
            self._files.quarantine_entry(sequence, critical)
            return None

    def take(self, limit: int) -> list[tuple[Key, WireAlert]]:
        """Return up to `limit` waiting transitions, oldest first, without removing them."""
        out: list[tuple[Key, WireAlert]] = []
        with self._lock:
            self.flush()
            for entry in list(self._entries.values()):
                if len(out) >= limit:
                    break
                keys = [key for key in entry.keys if key not in self._settled]
                if not keys:
                    continue
                payload = (
                    entry.payload
                    if entry.payload is not None
                    else self._files.read(entry.sequence, entry.critical)
                )
                alerts = self._decode(entry.sequence, entry.critical, payload)
                if alerts is None:
                    self.dropped["damaged"] += 1
                    self.alerts_dropped["damaged"] += len(keys)
                    self._remove(entry, delete_file=False)
                    continue
                for key, alert in zip(entry.keys, alerts):
                    if key not in self._settled and len(out) < limit:
                        out.append((key, alert))
        return out

    def settle(self, keys: Iterable[Key]) -> None:
        """Mark transitions done (sent, dead-lettered or superseded); delete emptied entries."""
        with self._lock:
            touched: set[int] = set()
            for key in keys:
                self._settled.add(key)
                touched.update(self._holders.get(key, ()))
            emptied = [
                self._entries[sequence]
                for sequence in sorted(touched)
                if sequence in self._entries
                and all(key in self._settled for key in self._entries[sequence].keys)
            ]
            for entry in emptied:
                self._remove(entry)
            if emptied:
                self._files.sync()

    def quarantined(self) -> list[Path]:
        """Return the damaged entries kept as evidence, oldest first."""
        return self._files.quarantined()
