"""Alerts the receiver refused, kept with its reason so a person can see and fix them.

The store is one JSON-lines file (`dead-letters.jsonl` in the state directory), rewritten
atomically and bounded to `max_entries` (the oldest go first, counted). An alert refused for
what it is (named in a 400's `rejected[]`, or alone in a refused batch) is withheld from later
re-sends while its labels and annotations stay the same: sending it again cannot succeed, and
a changed rule or output gets a new chance. Refusals of the sender itself (401, 403, 404) are
recorded but withhold nothing: once the token or URL is fixed, the alerts go out again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tocsin.agent.errors import StorageError
from tocsin.agent.fsutil import write_atomic
from tocsin.agent.push import WireAlert

log = logging.getLogger(__name__)
FILE_NAME = "dead-letters.jsonl"
DEFAULT_MAX_ENTRIES = 1000
DETAIL_CHARS = 500


def file_name(subdir: str) -> str:
    """Return the dead-letter file of a receiver: the first one's, or one named for another."""
    return f"dead-letters.{subdir}.jsonl" if subdir else FILE_NAME


def fingerprint(alert: WireAlert) -> str:
    """Identify what was sent: the labels and the annotations, not the times."""
    text = json.dumps([sorted(alert.labels), sorted(alert.annotations)], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "backslashreplace")).hexdigest()[:32]


@dataclass(frozen=True)
class DeadLetter:
    """One refused alert: when, the reason label (http_<status>), the receiver's words."""

    at: float
    reason: str
    detail: str
    alert: WireAlert
    withhold: bool

    def to_json(self) -> dict[str, Any]:
        """Return the file form."""
        return {
            "at": self.at,
            "reason": self.reason,
            "detail": self.detail[:DETAIL_CHARS],
            "withhold": self.withhold,
            "fingerprint": fingerprint(self.alert),
            "alert": self.alert.to_json(),
        }

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> DeadLetter:
        """Read the file form back."""
        return cls(
            float(raw["at"]),
            str(raw["reason"]),
            str(raw["detail"]),
            WireAlert.from_json(raw["alert"]),
            bool(raw["withhold"]),
        )


def _same(letter: DeadLetter) -> tuple[str, str, float, float | None]:
    """Identify one refusal of one transition: what was sent, why, and its times."""
    return (fingerprint(letter.alert), letter.reason, letter.alert.starts_at, letter.alert.ends_at)


class DeadLetters:
    """The bounded dead-letter file; re-read when another process (the CLI) changed it."""

    def __init__(self, path: Path, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.path = path
        self.max_entries = max_entries
        self.counted: Counter[str] = Counter()
        self.evicted_total = 0
        self._lock = threading.Lock()
        self._letters: list[DeadLetter] = []
        self._withheld: frozenset[str] = frozenset()
        self._seen: tuple[int, int] | None = None
        self._reload()

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot read dead letters: {exc.strerror}") from exc
        return (stat.st_mtime_ns, stat.st_size)

    def _reload(self) -> None:
        stamp = self._stamp()
        if stamp == self._seen:
            return
        letters = []
        if stamp is not None:
            try:
                lines = self.path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise StorageError(f"{self.path}: cannot read dead letters: {exc}") from exc
            for number, line in enumerate(lines, 1):
                try:
                    letters.append(DeadLetter.from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError):
                    log.warning("%s:%d: not a dead letter; skipped", self.path, number)
        self._set(letters)
        self._seen = stamp

    def _set(self, letters: list[DeadLetter]) -> None:
        self._letters = letters
        self._withheld = frozenset(fingerprint(d.alert) for d in letters if d.withhold)

    def letters(self) -> list[DeadLetter]:
        """Return the dead letters, oldest first."""
        with self._lock:
            self._reload()
            return list(self._letters)

    def sendable(self, alerts: Sequence[WireAlert]) -> list[WireAlert]:
        """Return the alerts not refused for what they are (the file read once for all)."""
        with self._lock:
            self._reload()
            if not self._withheld:
                return list(alerts)
            return [alert for alert in alerts if fingerprint(alert) not in self._withheld]

    def add(self, letters: Sequence[DeadLetter]) -> None:
        """Record refused alerts durably and count them by reason; the oldest past the bound go."""
        if not letters:
            return
        with self._lock:
            self._reload()
            self.counted.update(letter.reason for letter in letters)
            # A re-send refused again replaces its earlier letter rather than filling the file.
            fresh = {_same(letter) for letter in letters}
            kept = [d for d in self._letters if _same(d) not in fresh] + list(letters)
            if len(kept) > self.max_entries:
                self.evicted_total += len(kept) - self.max_entries
                kept = kept[-self.max_entries :]
            self._set(kept)
            self._write(kept)

    def clear(self) -> int:
        """Forget every dead letter (their alerts may be sent again); return how many there were."""
        with self._lock:
            self._reload()
            count = len(self._letters)
            self._set([])
            self._write([])
            return count

    def _write(self, letters: list[DeadLetter]) -> None:
        text = "".join(json.dumps(d.to_json(), ensure_ascii=False) + "\n" for d in letters)
        try:
            write_atomic(self.path, text.encode("utf-8", "backslashreplace"))
        except OSError as exc:
            # Kept in memory: withholding and counting go on; the file catches up on the next add.
            raise StorageError(f"{self.path}: cannot write dead letters: {exc.strerror}") from exc
        self._seen = self._stamp()
