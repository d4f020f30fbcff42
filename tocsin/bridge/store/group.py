"""Group commit with bounds: writers share one transaction, and none waits without limit.

Callers queue their work; one of them leads the next transaction and runs everyone's work
taken from the queue (at most GROUP_LIMIT works, GROUP_WEIGHT weight and, at the pace recent
transactions went, GROUP_SECONDS, so a transaction holds SQLite's write lock briefly). Each work
has a deadline, `wait` after its request arrived, by which it must be committed: a caller that
would pass `max_weight`, or that finds more work waiting than that pace commits within `wait`,
is refused at once; a work that can no longer be committed in time leaves the
queue (or is left out of the transaction taking it) and is refused; so is one whose `abandoned`
event is set (its client went away) before its work is taken. Refused work is never run, so
nothing of it is stored, and the slowest answer stays near `wait` plus one transaction's error.
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
    queued_at: float = field(default_factory=time.monotonic)  # when its request arrived
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
        """Return why work of `weight` would be refused now, or None.

        The queue is full: past `max_weight`, or holding more work than the recent pace commits
        within `wait`. Ingest asks before reading a request's body too, so a doomed request
        costs no parsing. The work's own size and time already spent are left to the deadline:
        counting them here too refused so much parsed work that alerts stored a second fell by a
        third (SQLite, the burst). Work finding the queue empty is never refused.
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
        while True:
            with self.cond:
                while self.leading and not job.finished:
                    if job.taken:
                        self.cond.wait()  # its transaction runs: bounded by the database's timeouts
                        continue
                    left = self._latest_start(job, job.weight) - time.monotonic()
                    if left <= 0:
                        self._leave(job)
                        raise self._late()
                    self.cond.wait(left)
                if job.finished:
                    break
                self.leading = True
                taken = self._take(job)
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

    def _latest_start(self, job: Job[Any], weight: int) -> float:
        """Return when a transaction of `weight` must start to commit `job` by its deadline.

        The transaction's expected time counts at most half the wait, so work that waited less
        than that is always taken: a slow pace cannot starve the queue.
        """
        return job.queued_at + self.wait - min(weight * self.pace, self.wait / 2)

    def _late(self) -> Overloaded:
        return Overloaded(
            f"not committed within {self.wait:g}s (limits.queue_timeout); retry",
            self.retry_after,
            "queue_timeout",
        )

    def _paced(self, seconds: float, weight: int) -> None:
        """Fold one transaction's seconds per unit of weight into the running pace."""
        with self.cond:
            self.pace = smoothed(self.pace, seconds / max(1, weight))

    def _leave(self, job: Job[Any]) -> None:
        self.queue.remove(job)  # the head, but for a leader's own job or one that gave up
        self.weight -= job.weight

    def _take(self, own: Job[Any] | None = None) -> list[Job[Any]]:
        """Take the next transaction's jobs off the queue, the leader's `own` among them.

        Those it could not commit in time are refused and those whose client went away are
        dropped. The leader's own job goes in even past the group's bounds, so a leader is
        answered after its own transaction, never after one of others' only.
        """
        taken: list[Job[Any]] = []
        weight = 0
        now = time.monotonic()
        refused = False
        while self.queue and len(taken) < GROUP_LIMIT:
            job = self.queue[0]
            if taken and (
                weight + job.weight > GROUP_WEIGHT
                or (weight + job.weight) * self.pace > GROUP_SECONDS
            ):
                break
            self._leave(job)
            if self._claim(job, weight, now):
                taken.append(job)
                weight += job.weight
            else:
                refused = True
        if own is not None and not own.taken and not own.finished:
            self._leave(own)
            if self._claim(own, weight, now):
                taken.append(own)
            else:
                refused = True
        if refused:
            self.cond.notify_all()  # their callers answer now, not after this transaction
        return taken

    def _claim(self, job: Job[Any], weight: int, now: float) -> bool:
        """Mark `job` taken into a transaction already holding `weight`, or refused if its
        client went away or, behind others' work, it could not commit in time; return whether
        it was taken. The first work of a transaction waits behind nobody's: refusing it would
        only slow it further (a slow machine, not a queue)."""
        if job.abandoned is not None and job.abandoned.is_set():
            job.error = Overloaded("the sender went away", self.retry_after, "gone")
        elif weight and now > self._latest_start(job, weight + job.weight):
            job.error = self._late()
        if job.error is not None:
            job.finished = True
            return False
        job.taken = True
        if self.on_wait is not None:
            self.on_wait(now - job.queued_at)
        return True
