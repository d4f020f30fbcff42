"""Deliver alerts in order on a thread of their own, so sampling never waits on the network.

Firing and resolved transitions are spooled on disk before delivery and replayed oldest first;
the periodic re-send of firing alerts is kept in memory (only the newest) and goes out once the
spool is empty. Failures back off exponentially with jitter, at least as long as Retry-After.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from tocsin.agent.errors import PushError, PushRejected, PushUnavailable
from tocsin.agent.push import Receiver, WireAlert, decode_batch, encode_batch
from tocsin.agent.spool import Spool

log = logging.getLogger(__name__)


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
    ) -> None:
        self.receiver = receiver
        self.spool = spool
        self.ttl = ttl
        self.heartbeat = heartbeat
        self.backoff = backoff
        self.failures: Counter[str] = Counter()
        self.sent_total = 0
        self._clock = clock
        self._draw = draw
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._refresh: list[WireAlert] | None = None
        self._attempt = 0
        self._retry_at = 0.0
        self._heartbeat_at = 0.0
        self._heartbeat_missing_logged = False
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def enqueue(self, alerts: Sequence[WireAlert]) -> None:
        """Spool a batch of transitions durably, then wake the sender."""
        if alerts:
            self.spool.append(encode_batch(alerts))
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

    def _fail(self, exc: PushError, what: str, now: float) -> None:
        self.failures[exc.reason] += 1
        if isinstance(exc, PushUnavailable):
            self._attempt += 1
            wait = self.backoff.delay(self._attempt, exc.retry_after, self._draw())
            self._retry_at = now + wait
            log.warning(
                "push of %s failed (%s); retry #%d in %.1fs", what, exc, self._attempt, wait
            )
        else:
            log.error("receiver rejected %s, dropped: %s", what, exc)

    def _deliver(self, now: float) -> bool:
        """Send the next batch if one is due; return True when more may go at once."""
        if now < self._retry_at:
            return False
        head = self.spool.peek()
        if head is not None:
            sequence, payload = head
            try:
                self.receiver.post_alerts(decode_batch(payload), now, self.ttl)
            except PushError as exc:
                self._fail(exc, f"spooled batch #{sequence}", now)
                if isinstance(exc, PushRejected):
                    self.spool.remove(sequence)
                return isinstance(exc, PushRejected)
            self.spool.remove(sequence)
            self._succeeded()
            return True
        with self._lock:
            batch, self._refresh = self._refresh, None
        if batch is None:
            return False
        try:
            self.receiver.post_alerts(batch, now, self.ttl)
        except PushError as exc:
            self._fail(exc, f"re-send of {len(batch)} firing alerts", now)
            if isinstance(exc, PushUnavailable):
                with self._lock:
                    self._refresh = self._refresh or batch
            return False
        self._succeeded()
        return False

    def _succeeded(self) -> None:
        self.sent_total += 1
        self._attempt = 0
        self._retry_at = 0.0

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
                log.warning("heartbeat rejected: %s", exc)
            elif not self._heartbeat_missing_logged:
                self._heartbeat_missing_logged = True
                log.info("receiver has no heartbeat endpoint (an Alertmanager?): %s", exc)
        except PushError as exc:
            self.failures[exc.reason] += 1
            log.warning("heartbeat failed: %s", exc)

    def step(self) -> float:
        """Do every due delivery and heartbeat; return the seconds until something is due."""
        for _ in range(1000):
            if not self._deliver(self._clock()):
                break
        now = self._clock()
        self._beat(now)
        due = [self._heartbeat_at] if self.heartbeat else []
        if self._retry_at > now:
            due.append(self._retry_at)
        elif self.spool.depth or self._refresh is not None:
            due.append(now)
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
