"""Deliver alerts in order on a thread of their own, so sampling never waits on the network.

Firing and resolved transitions are spooled before delivery and replayed oldest first, many per
POST (`Pace.max_batch`) and no faster than `Pace.max_rate` alerts a second, so a backlog after
a long outage does not flood the receiver. The periodic re-send of firing alerts is kept in
memory (only the newest) and goes out once the spool is empty. Failures back off exponentially
with jitter, at least as long as Retry-After. Alerts the receiver refuses are dead-lettered
with its reason (see deadletters.py); nothing refused is dropped without a trace.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tocsin.agent.deadletters import DeadLetter, DeadLetters
from tocsin.agent.errors import PushError, PushRejected, PushUnavailable, StorageError
from tocsin.agent.push import Receiver, WireAlert
from tocsin.agent.spool import Spool

log = logging.getLogger(__name__)
DEFAULT_MAX_BATCH = 500
DEFAULT_MAX_RATE = 1000.0
# Refusals of a batch that splitting can narrow down to the one alert at fault.
ISOLATE_STATUSES = (400, 413, 422)
AUTH_STATUSES = (401, 403)


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: base * 2^(n-1) capped, scaled by a random 50-100%."""

    base: float = 1.0
    cap: float = 60.0

    def delay(self, attempt: int, retry_after: float | None, draw: float) -> float:
        """Return the wait before retry number `attempt` (1-based); `draw` is uniform in [0, 1)."""
        exponential = min(self.cap, self.base * 2.0 ** min(attempt - 1, 30))
        jittered = exponential * (0.5 + draw / 2)
        return max(jittered, retry_after or 0.0)


@dataclass(frozen=True)
class Pace:
    """How fast a backlog drains: at most `max_batch` alerts per POST, `max_rate` alerts/s."""

    max_batch: int = DEFAULT_MAX_BATCH
    max_rate: float = DEFAULT_MAX_RATE


@dataclass(frozen=True)
class Heartbeat:
    """What a heartbeat says: the host, how often to expect it, and the host's labels."""

    host: str
    interval: float
    labels: Mapping[str, str]


class Pusher:
    """Own the receiver, the spool and the retry schedule; `step` does what is due."""

    def __init__(
        self,
        receiver: Receiver,
        spool: Spool,
        ttl: float,
        heartbeat: Heartbeat | None = None,
        backoff: Backoff = Backoff(),
        clock: Callable[[], float] = time.time,
        draw: Callable[[], float] = random.random,
        *,
        dead_letters: DeadLetters,
        pace: Pace = Pace(),
    ) -> None:
        self.receiver = receiver
        self.spool = spool
        self.ttl = ttl
        self.heartbeat = heartbeat
        self.backoff = backoff
        self.dead_letters = dead_letters
        self.pace = pace
        self.failures: Counter[str] = Counter()
        self.sent_total = 0
        self.alerts_sent_total = 0
        self.withheld_total = 0
        self.auth_failing = False
        # False after a push or heartbeat failed for want of the receiver, True after one went.
        self.reachable = True
        self._clock = clock
        self._draw = draw
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._refresh: list[WireAlert] | None = None
        self._attempt = 0
        self._retry_at = 0.0
        self._budget = float(pace.max_batch)
        self._budget_at = clock()
        self._need = 1
        self._cap = pace.max_batch
        self._heartbeat_at = 0.0
        self._heartbeat_missing_logged = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def enqueue(self, alerts: Sequence[WireAlert]) -> None:
        """Spool a batch of transitions (on disk, or in memory while the disk is full)."""
        self.spool.append(alerts)
        if alerts:
            changed = {alert.labels for alert in alerts}
            with self._lock:
                # A waiting re-send must not overtake, and undo, a newer resolution.
                if self._refresh is not None:
                    kept = [alert for alert in self._refresh if alert.labels not in changed]
                    self._refresh = kept or None
            self._wake.set()

    def refresh(self, alerts: Sequence[WireAlert]) -> None:
        """Offer the current firing alerts for re-sending; replaces any not yet sent."""
        with self._lock:
            self._refresh = list(alerts) if alerts else None
        self._wake.set()

    def _unavailable(self, exc: PushUnavailable, what: str, now: float) -> None:
        self.failures[exc.reason] += 1
        self.reachable = False
        self._attempt += 1
        wait = self.backoff.delay(self._attempt, exc.retry_after, self._draw())
        self._retry_at = now + wait
        log.warning("push of %s failed (%s); retry #%d in %.1fs", what, exc, self._attempt, wait)

    def _rejected(self, exc: PushRejected, alerts: Sequence[WireAlert], now: float) -> bool:
        """Dead-letter what the receiver refused; return False to keep the batch for a retry.

        A batch refused as a whole with 400/413/422 is split until the refused alert stands
        alone (a bridge names it in `rejected[]` at once; an Alertmanager does not).
        """
        self.failures[exc.reason] += 1
        if not exc.rejected and exc.status in ISOLATE_STATUSES and len(alerts) > 1:
            self._cap = max(1, len(alerts) // 2)
            log.warning(
                "receiver refused a batch of %d alerts (%s); retrying in batches of %d",
                len(alerts),
                exc.detail or exc.reason,
                self._cap,
            )
            return False
        named = exc.rejected or {index: exc.detail for index in range(len(alerts))}
        own = bool(exc.rejected) or exc.status in ISOLATE_STATUSES
        letters = [
            DeadLetter(now, exc.reason, why, alerts[index], own)
            for index, why in sorted(named.items())
            if 0 <= index < len(alerts)
        ]
        self.auth_failing = exc.status in AUTH_STATUSES
        stored = len(alerts) - len(letters)
        if stored:
            self._succeeded(stored, now)
        log.error(
            "receiver refused %d of %d alert(s), dead-lettered (see `tocsin-agent dead-letters`): %s",
            len(letters),
            len(alerts),
            exc,
        )
        try:
            self.dead_letters.add(letters)
        except StorageError as error:
            log.error("%s", error)
        if not own:
            # The sender itself is refused (token, URL): every batch would be; wait between tries.
            self.reachable = False
            self._attempt += 1
            self._retry_at = now + self.backoff.delay(self._attempt, None, self._draw())
        return True

    def _send(self, alerts: list[WireAlert], what: str, now: float) -> bool | None:
        """Post alerts minus the withheld; True sent or settled, False keep, None unavailable."""
        sendable = self.dead_letters.sendable(alerts)
        self.withheld_total += len(alerts) - len(sendable)
        if not sendable:
            return True
        try:
            self.receiver.post_alerts(sendable, now, self.ttl)
        except PushUnavailable as exc:
            self._unavailable(exc, what, now)
            return None
        except PushRejected as exc:
            return self._rejected(exc, sendable, now)
        self._succeeded(len(sendable), now)
        return True

    def _deliver(self, now: float) -> bool:
        """Send the next batch if one is due; return True when more may go at once."""
        if now < self._retry_at or now < self._paced_until(now):
            return False
        taken = self.spool.take(self._cap)
        if taken:
            if not self._afford(len(taken), now):
                return False
            outcome = self._send([alert for _, alert in taken], f"{len(taken)} spooled alerts", now)
            if outcome:
                self.spool.settle(key for key, _ in taken)
            return outcome is not None
        with self._lock:
            batch, self._refresh = self._refresh, None
        if batch is None:
            return False
        head, rest = batch[: self._cap], batch[self._cap :]
        if not self._afford(len(head), now):
            with self._lock:
                self._refresh = self._refresh or batch
            return False
        outcome = self._send(head, f"re-send of {len(head)} firing alerts", now)
        kept = rest if outcome else batch
        with self._lock:
            if kept:
                self._refresh = self._refresh or kept
        return outcome is not None and bool(kept)

    def _succeeded(self, count: int, now: float) -> None:
        self.sent_total += 1
        self.alerts_sent_total += count
        self.auth_failing = False
        self.reachable = True
        self._attempt = 0
        self._retry_at = 0.0
        self._cap = min(self.pace.max_batch, self._cap * 2)
        self._paced_until(now)
        self._budget -= count

    def _paced_until(self, now: float) -> float:
        """Refill the send budget (a token bucket of max_batch alerts); return when a batch may go.

        A batch waits until the budget covers all of it, so the rate holds however the backlog
        is cut, and a backlog drains in whole batches; an idle agent has a full budget.
        """
        refill = max(0.0, now - self._budget_at) * self.pace.max_rate
        self._budget = min(float(self.pace.max_batch), self._budget + refill)
        self._budget_at = now
        if self._budget >= self._need:
            return now
        return now + (self._need - self._budget) / self.pace.max_rate

    def _afford(self, count: int, now: float) -> bool:
        """Tell whether a batch of `count` alerts may go now; if not, wait for its budget."""
        self._need = min(count, self.pace.max_batch)
        return self._paced_until(now) <= now

    def _beat(self, now: float) -> None:
        if self.heartbeat is None or now < self._heartbeat_at:
            return
        beat = self.heartbeat
        self._heartbeat_at = now + beat.interval
        try:
            self.receiver.post_heartbeat(beat.host, beat.interval, beat.labels)
        except PushRejected as exc:
            if exc.status != 404:
                self.failures[exc.reason] += 1
                self.reachable = False
                self.auth_failing = self.auth_failing or exc.status in AUTH_STATUSES
                log.warning("heartbeat rejected: %s", exc)
            elif not self._heartbeat_missing_logged:
                self._heartbeat_missing_logged = True
                log.info("receiver has no heartbeat endpoint (an Alertmanager?): %s", exc)
        except PushError as exc:
            self.failures[exc.reason] += 1
            self.reachable = False
            log.warning("heartbeat failed: %s", exc)
        else:
            self.reachable = True

    def step(self) -> float:
        """Do every due delivery and heartbeat; return the seconds until something is due."""
        for _ in range(1000):
            if not self._deliver(self._clock()):
                break
        now = self._clock()
        self._beat(now)
        due = [self._heartbeat_at] if self.heartbeat else []
        if self.spool.depth or self._refresh is not None:
            due.append(max(now, self._retry_at, self._paced_until(now)))
        return max(0.0, min(due, default=now + 3600.0) - now)

    def run(self) -> None:
        """Deliver until stopped; a storage fault is logged and retried, never fatal here."""
        while not self._stop.is_set():
            try:
                wait = self.step()
            except Exception as exc:  # the sender thread must outlive any fault
                log.exception("push loop fault: %s", exc)
                wait = 1.0
            self._wake.wait(wait)
            self._wake.clear()

    def start(self) -> None:
        """Start delivering on a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="tocsin-push", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread; whatever was not delivered stays in the spool for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.receiver.close()
