"""Failed sign-ins slow the next try, per account and per client address, with growing backoff.

Decisions only: the caller passes the time. Held in memory by each bridge process (a replica
counts its own); a restart forgets, which costs a guesser nothing they could not get by waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

ACCOUNT_FREE = 5  # failures per account before each further try waits
ADDRESS_FREE = 20  # per client address: several people behind one NAT sign in too
BASE = timedelta(seconds=2)
CAP = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)  # a quiet hour wipes the slate
MAX_KEYS = 10_000  # bounded memory under a spray of names or addresses


@dataclass
class _Record:
    failures: int
    last: datetime


def backoff(failures: int, free: int) -> timedelta:
    """Return how long to wait after `failures` failures when `free` are allowed: doubling, capped."""
    over = failures - free
    if over < 0:
        return timedelta(0)
    factor: int = 1 << min(over, 20)
    return min(CAP, BASE * factor)


@dataclass
class Throttle:
    """Counts failures per key ('account:NAME', 'address:IP') and says how long a key must wait."""

    records: dict[str, _Record] = field(default_factory=dict)

    def wait(self, keys: dict[str, int], now: datetime) -> timedelta:
        """Return how long until any of `keys` (key -> free failures) may try again."""
        longest = timedelta(0)
        for key, free in keys.items():
            record = self.records.get(key)
            if record is None:
                continue
            if now - record.last >= FORGET_AFTER:
                del self.records[key]
                continue
            remaining = record.last + backoff(record.failures, free) - now
            longest = max(longest, remaining)
        return longest

    def failed(self, keys: list[str], now: datetime) -> int:
        """Count a failure against each key; return the highest count among them."""
        if len(self.records) >= MAX_KEYS:
            self._forget_oldest()
        highest = 0
        for key in keys:
            record = self.records.setdefault(key, _Record(0, now))
            record.failures += 1
            record.last = now
            highest = max(highest, record.failures)
        return highest

    def succeeded(self, account_key: str) -> None:
        """Clear the account's failures (the address keeps its count: it may be guessing others)."""
        self.records.pop(account_key, None)

    def _forget_oldest(self) -> None:
        oldest = sorted(self.records, key=lambda key: self.records[key].last)
        for key in oldest[: len(oldest) // 2]:
            del self.records[key]
