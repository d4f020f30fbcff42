"""Group commit with bounds: writers share one transaction, and none waits without limit.

Callers queue their work; one of them leads the next transaction and runs everyone's work
taken from the queue (at most GROUP_LIMIT works, GROUP_WEIGHT weight and, at the pace recent
transactions went, GROUP_SECONDS, so a transaction holds SQLite's write lock briefly). The
queue is bounded by weight (alerts): a caller that would pass `max_weight`, or that would wait
longer than `wait` at that pace, is refused at once rather than after waiting in vain. A caller
whose work was not taken within `wait` leaves the queue and is refused; so is one whose
`abandoned` event is set (its client went away) before its work is taken. Refused work is never
run, so nothing of it is stored.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from tocsin.bridge.errors import Overloaded

# Most works one shared transaction takes: bounds how long it holds SQLite's write lock.
GROUP_LIMIT = 16
# Most weight (alerts) one shared transaction takes, for the same reason: 100-alert batches
# go five at a time (about 0.2 s on SQLite), not sixteen (over half a second).
GROUP_WEIGHT = 500
# How long one shared transaction should take at the measured pace: a caller's wait in the
# queue plus its own transaction then stays well inside a second on a busy machine too.
GROUP_SECONDS = 0.2
PACE_SMOOTHING = 0.3  # weight of the latest transaction in the running pace
T = TypeVar("T")


def smoothed(running: float, latest: float) -> float:
    """Return a running figure with `latest` folded in (`latest` itself when none ran yet)."""
    return latest if not running else PACE_SMOOTHING * latest + (1 - PACE_SMOOTHING) * running


@dataclass
class Job(Generic[T]):
    """One caller's work in a shared transaction, and what became of it."""

    work: Callable[[Connection], T]
    weight: int = 1
    abandoned: threading.Event | None = None
    queued_at: float = field(default_factory=time.monotonic)
    result: T | None = None
    error: BaseException | None = None
    taken: bool = False
    finished: bool = False


@dataclass
class GroupCommit:
    """The queue of callers waiting to share the next transaction; one of them leads it."""

    run: Callable[[list[Job[Any]]], None]
    max_weight: int = 5000
    wait: float = 1.0
    retry_after: int = 2
    on_wait: Callable[[float], None] | None = None
    cond: threading.Condition = field(default_factory=threading.Condition)
    queue: list[Job[Any]] = field(default_factory=list)
    weight: int = 0
    leading: bool = False
    pace: float = 0.0  # seconds a transaction took per unit of weight, smoothed; 0: not known

    @property
    def depth(self) -> int:
        """Return how many callers wait for a transaction to take their work."""
        return len(self.queue)

    def refusal(self, weight: int = 0) -> Overloaded | None:
        """Return why work of `weight` would be refused now (the queue is full), or None.

        Ingest asks before reading a request's body too, so a doomed request costs no parsing.
        """
        if not self.queue:
            return None
        if self.weight + weight > self.max_weight:
            return Overloaded(
                f"ingest queue full: {self.weight} alerts wait for a commit "
                f"(limits.max_queued_alerts {self.max_weight})",
                self.retry_after,
                "queue_full",
            )
        if self.weight * self.pace > self.wait:
            return Overloaded(
                f"ingest queue full: {self.weight} alerts wait for a commit, about "
                f"{self.weight * self.pace:.1f}s of work (limits.queue_timeout {self.wait:g}s)",
                self.retry_after,
                "queue_full",
            )
        return None

    def submit(self, job: Job[T]) -> T:
        """Queue `job`, lead or wait for the transaction that holds it; return its result."""
        with self.cond:
            refused = self.refusal(job.weight)
            if refused is not None:
                raise refused
            self.queue.append(job)
            self.weight += job.weight
        deadline = job.queued_at + self.wait
        while True:
            with self.cond:
                while self.leading and not job.finished:
                    if job.taken:
                        self.cond.wait()  # its transaction runs: bounded by the database's timeouts
                        continue
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._leave(job)
                        raise Overloaded(
                            f"no commit within {self.wait:g}s (limits.queue_timeout); retry",
                            self.retry_after,
                            "queue_timeout",
                        )
                    self.cond.wait(left)
                if job.finished:
                    break
                self.leading = True
                taken = self._take()
            try:
                if taken:
                    started = time.monotonic()
                    self.run(taken)
                    self._paced(time.monotonic() - started, sum(one.weight for one in taken))
            finally:
                with self.cond:
                    self.leading = False
                    self.cond.notify_all()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _paced(self, seconds: float, weight: int) -> None:
        """Fold one transaction's seconds per unit of weight into the running pace."""
        with self.cond:
            self.pace = smoothed(self.pace, seconds / max(1, weight))

    def _leave(self, job: Job[Any]) -> None:
        self.queue.remove(job)
        self.weight -= job.weight

    def _take(self) -> list[Job[Any]]:
        """Take the next transaction's jobs off the queue; drop those whose client went away."""
        taken: list[Job[Any]] = []
        weight = 0
        now = time.monotonic()
        while self.queue and len(taken) < GROUP_LIMIT:
            job = self.queue[0]
            if taken and (
                weight + job.weight > GROUP_WEIGHT
                or (weight + job.weight) * self.pace > GROUP_SECONDS
            ):
                break
            self.queue.pop(0)
            self.weight -= job.weight
            if job.abandoned is not None and job.abandoned.is_set():
                job.error = Overloaded("the sender went away", self.retry_after, "gone")
                job.finished = True
                continue
            job.taken = True
            taken.append(job)
            weight += job.weight
            if self.on_wait is not None:
                self.on_wait(now - job.queued_at)
        return taken
