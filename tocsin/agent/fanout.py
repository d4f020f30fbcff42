"""Every receiver gets every alert: one pusher and one spool per receiver, side by side.

An Alertmanager HA pair, or a bridge and an Alertmanager, each receive each transition from
a spool of their own, so one receiver down never holds the other back and each replays what
it missed when it returns. Each re-sends firing alerts on its own `resend` period.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence

import requests

from tocsin.agent.errors import StorageError
from tocsin.agent.push import WireAlert
from tocsin.agent.pusher import Pusher
from tocsin.agent.spool import Spool

log = logging.getLogger(__name__)


class Fanout:
    """The pushers of all receivers, in the config's order, and when each re-sends next."""

    def __init__(self, pushers: Sequence[tuple[float, Pusher]]) -> None:
        self.pushers = [pusher for _, pusher in pushers]
        self._periods = [resend for resend, _ in pushers]
        self._next_resend = [0.0] * len(self.pushers)

    @property
    def spools(self) -> list[Spool]:
        """Return each receiver's spool."""
        return [pusher.spool for pusher in self.pushers]

    @property
    def refused(self) -> StorageError | None:
        """Return why a spool's disk refuses writes now (it holds alerts in memory), or None."""
        return next((s.refused for s in self.spools if s.refused is not None), None)

    def enqueue(self, alerts: Sequence[WireAlert]) -> None:
        """Spool transitions for every receiver; raise the first StorageError after trying all."""
        failed: StorageError | None = None
        for pusher in self.pushers:
            try:
                pusher.enqueue(alerts)
            except StorageError as exc:
                failed = failed or exc
        if failed is not None:
            raise failed

    def due(self, monotonic: float, force: bool) -> list[Pusher]:
        """Return the pushers whose re-send period is up (all when `force`), and restart theirs."""
        due = []
        for index, pusher in enumerate(self.pushers):
            if force or monotonic >= self._next_resend[index]:
                self._next_resend[index] = monotonic + self._periods[index]
                due.append(pusher)
        return due

    def observe(self, hook: Callable[[requests.Response], None]) -> None:
        """Call `hook` with every answer of every receiver."""
        for pusher in self.pushers:
            pusher.receiver.observe(hook)

    def start(self) -> None:
        """Start every receiver's delivery thread."""
        for pusher in self.pushers:
            pusher.start()

    def stop(self) -> None:
        """Stop every delivery thread; what was not delivered stays in each spool."""
        for pusher in self.pushers:
            pusher.stop()

    def failures(self) -> Counter[str]:
        """Return the failed pushes of all receivers, by reason."""
        total: Counter[str] = Counter()
        for pusher in self.pushers:
            total.update(pusher.failures)
        return total
