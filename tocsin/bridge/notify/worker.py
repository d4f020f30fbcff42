"""The delivery worker: claim due outbox rows, deliver, settle; retry with capped jittered backoff.

A row is marked delivered only after its receiver accepted it; a failure is retried after
base * 2^(attempts-1) seconds (capped at a minute by default, with jitter so a recovered
receiver is not hit by every replica at once), by time rather than by count: until the row is
max_age old (24 h), then it is a dead letter keeping the last reason, logged and counted. A receiver
that refuses the request itself (4xx but 408/409/425/429) makes it a dead letter at once. The state
lives in the table, so a restarted bridge simply claims the rows still pending.

The rows of a claimed batch are delivered side by side per channel and incident, each such
group in turn: a slow or hanging receiver holds back only its own channel's messages, never
another person's page, and each channel still hears an incident's events in the order they
happened, while a storm of incidents on one channel goes out in parallel. Each channel keeps
its own HTTP session (a pool of keep-alive connections), and accepted rows are recorded in one
statement per batch. A transaction that queues rows wakes this process's worker once it
commits; the poll finds retries falling due and rows that other replicas queued.

Delivery is at least once: a page whose sending could not be recorded for two leases (a long
database partition, a crash after the receiver accepted) is sent again with the same key,
counted in tocsin_bridge_outbox_repeats_total and logged; webhook and mail receivers can fold it.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import ssl
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from prometheus_client import Counter, Gauge
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from tocsin.bridge.errors import BridgeError, ConfigError, DeliveryRefused
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.channels import Notification, Sender, setting_secret
from tocsin.bridge.notify.channels.email import EmailSender
from tocsin.bridge.notify.channels.reporter_mail import ReporterMailSender
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.outbox import RENDER
from tocsin.bridge.notify.reporter import CHANNEL as REPORTER_CHANNEL
from tocsin.bridge.notify.senders import build_sender
from tocsin.bridge.notify.stale import stale_notice, stale_statuses
from tocsin.bridge.platform.clock import Clock, utcnow
from tocsin.bridge.platform.config import Smtp
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.policy.model import Channel, Policy
from tocsin.bridge.store.db import Store

log = logging.getLogger(__name__)
# Channel types where a repeated page is not seen twice: the webhook's Idempotency-Key header
# and a mail's Message-ID stay the same on every attempt, so receivers fold it by that key; a
# phone page finds its provider's id in the outbox entry and is not sent again. Chat robots
# take no such key: a repeat there is seen twice (and counted as such).
IDEMPOTENT = frozenset({"webhook", "email", "sms", "voice"})
# Renders claimed pages queued unrendered: their payloads by row id (Outbox.render_pages).
Render = Callable[[Connection, Sequence[queue.Row]], Mapping[int, Mapping[str, Any]]]


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a delivery is retried before it becomes a dead letter."""

    max_attempts: int | None = None  # a count limit besides the age limit, if set
    base: float = 5.0  # seconds before the first retry
    cap: float = 60.0  # the longest wait between attempts, jitter included
    jitter: float = 0.2  # +/- this fraction of the wait, at random
    max_age: float = 86400.0  # seconds after queuing when a row stops being retried

    def delay(self, attempts: int, rand: float) -> float:
        """Return the wait after `attempts` failed attempts; rand is uniform in [0, 1)."""
        wait = min(self.cap, self.base * 2.0 ** max(0, min(attempts - 1, 62)))
        return min(self.cap, wait * (1 - self.jitter + 2 * self.jitter * rand))

    def gives_up(self, attempts: int, age: float) -> bool:
        """Return whether a row that failed `attempts` times, `age` seconds after queuing, is dead."""
        counted_out = self.max_attempts is not None and attempts >= self.max_attempts
        return counted_out or age >= self.max_age


@dataclass(frozen=True)
class _Batch:
    """Claimed rows ready to send (stale ones settled, pages rendered) and how many were tried."""

    rows: list[queue.Row]
    tried: int


class OutboxMetrics:
    """tocsin_bridge_outbox_pending/_dead gauges (read at scrape) and the notifications counter."""

    def __init__(self, metrics: Metrics, store: Store) -> None:
        registry = metrics.registry
        self.pending = Gauge(
            "tocsin_bridge_outbox_pending",
            "Notifications waiting in the outbox for delivery or a retry.",
            registry=registry,
        )
        self.dead = Gauge(
            "tocsin_bridge_outbox_dead",
            "Notifications that ran out of attempts (dead letters); retry them with the API or CLI.",
            registry=registry,
        )
        self.notifications = Counter(
            "tocsin_bridge_notifications",
            "Delivery attempts by channel type and result (delivered, failed, dead).",
            ["channel_type", "result"],
            registry=registry,
        )
        self.stale = Counter(
            "tocsin_bridge_pages_stale",
            "Pages whose incident was acknowledged or resolved before they left, by action.",
            ["action", "status"],
            registry=registry,
        )
        self.repeats = Counter(
            "tocsin_bridge_outbox_repeats",
            "Pages sent again because the replica that sent them could not record it within two "
            "leases (at least once); idempotent=true: the receiver can fold the repeat by its key.",
            ["channel_type", "idempotent"],
            registry=registry,
        )
        self.unrecorded = Counter(
            "tocsin_bridge_outbox_unrecorded",
            "Deliveries this replica could not record within its mark patience: they may repeat.",
            registry=registry,
        )
        self.store = store
        metrics.on_scrape(self.refresh)

    def refresh(self) -> None:
        """Read the pending and dead counts from the database."""
        try:
            with self.store.connect() as conn:
                found = queue.counts(conn)
        except (BridgeError, SQLAlchemyError):
            log.warning("outbox gauges not refreshed: database unavailable")
            return
        self.pending.set(found["pending"])
        self.dead.set(found["dead"])


class DeliveryWorker:
    """Delivers outbox rows in a background thread; start()/stop() for the runtime."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        metrics: Metrics,
        *,
        smtp: Smtp | None = None,
        tls_context: ssl.SSLContext | None = None,
        clock: Clock = utcnow,
        retry: RetryPolicy = RetryPolicy(),
        lease: timedelta = timedelta(seconds=60),
        batch: int = 200,
        parallel: int = 8,
        poll_interval: float = 0.1,
        session: requests.Session | None = None,
        rand: Callable[[], float] = random.random,
        name: str | None = None,
        stale_pages: str = "drop",
        mark_patience: timedelta = timedelta(minutes=10),
        on_dead: Callable[[queue.Row, str], None] | None = None,
        render: Render | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.smtp = smtp
        self.tls_context = tls_context
        self.clock = clock
        self.retry = retry
        self.lease = lease
        self.batch = batch
        self.parallel = max(1, parallel)
        self.poll_interval = poll_interval
        self.session = session or requests.Session()
        self.rand = rand
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{random.randrange(1 << 30)}"
        self.metrics = OutboxMetrics(metrics, store)
        self.registry = metrics.registry  # phone channels count their sends on it
        self.mark_patience = mark_patience.total_seconds()  # retrying a failed mark this long
        self.stale_pages = stale_pages  # drop, or notice: a short "already resolved" message
        self.on_dead = on_dead  # hears each dead letter (the incident's timeline records it)
        self.render = render  # renders the pages queued unrendered (Outbox.render_pages)
        self._notices: dict[int, str] = {}  # claimed rows to send as such a notice, by id
        self._senders: dict[str, Sender] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._claiming: ThreadPoolExecutor | None = None
        self._building = threading.Lock()  # delivery threads ask for senders at once
        self._shared_session = session is not None
        self._stop = threading.Event()
        self._wake = threading.Event()  # set when this process queued rows: look at once
        self._thread: threading.Thread | None = None
        store.listen(queue.QUEUED, self._wake.set)

    def start(self) -> None:
        """Start delivering in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="tocsin-outbox", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look for due rows at once: another process queued some (deliver_from: process)."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the loop to end after its current delivery and wait for it."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        for pool in (self._pool, self._claiming):
            if pool is not None:
                pool.shutdown(wait=True)
        self._pool = self._claiming = None

    def _loop(self) -> None:
        # The next batch is claimed and rendered while this one is delivered (the claiming
        # thread), and handed over only once this one is settled: an incident's later page on
        # a channel still leaves after its earlier one.
        ahead: Future[_Batch] | None = None
        while not self._stop.is_set():
            # Cleared before looking: rows queued from here on wake the next wait at once.
            self._wake.clear()
            try:
                claimed, ahead = ahead, None
                batch = claimed.result() if claimed is not None else self._take()
                if batch.rows and not self._stop.is_set():
                    ahead = self._claimer().submit(self._take)
                self._send(batch)
                busy = batch.tried
            except (BridgeError, SQLAlchemyError) as exc:
                log.warning("outbox: %s; retrying in %.0fs", type(exc).__name__, self.poll_interval)
                busy = 0
            if not busy:
                # The poll finds retries falling due and rows other replicas queued.
                self._wake.wait(self.poll_interval)
        if ahead is not None:
            self._give_back(ahead)

    def _give_back(self, ahead: Future[_Batch]) -> None:
        """Give back a batch claimed ahead that will not be sent (stopping): due at once elsewhere."""
        try:
            rows = ahead.result().rows
        except (BridgeError, SQLAlchemyError):
            return  # its claim did not commit, or its rows were given back already
        if rows:
            self._settle(lambda c: queue.release(c, rows, worker=self.name))

    def _claimer(self) -> ThreadPoolExecutor:
        """Return the thread that claims and renders the next batch, started once."""
        if self._claiming is None:
            self._claiming = ThreadPoolExecutor(1, thread_name_prefix="tocsin-outbox-claim")
        return self._claiming

    def run_once(self) -> int:
        """Claim one batch of due rows, deliver and settle each; return how many were tried."""
        batch = self._take()
        self._send(batch)
        return batch.tried

    def _take(self) -> _Batch:
        """Claim a batch of due rows, settle its stale pages and render its pages."""
        now = self.clock()
        with self.store.connect() as conn:
            if not queue.has_due(conn, now, self.name):
                return _Batch([], 0)
        with self.store.begin() as conn:
            rows = queue.claim(conn, worker=self.name, now=now, lease=self.lease, limit=self.batch)
            stale = stale_statuses(conn, rows)
            if stale and self.stale_pages == "drop":
                dropped = [row for row in rows if row.id in stale]
                queue.mark_dropped(conn, dropped, worker=self.name, now=now,
                                   reason="incident moved on before delivery")  # fmt: skip
        for row in rows:
            if row.id in stale:
                action = "dropped" if self.stale_pages == "drop" else "notice"
                self.metrics.stale.labels(action=action, status=stale[row.id]).inc()
                log.info("outbox entry %s for incident %s: %s, page %s", row.id, row.incident_id,
                         stale[row.id], action)  # fmt: skip
        if self.stale_pages == "drop":
            rows = [row for row in rows if row.id not in stale]
        else:
            self._notices.update(stale)
        tried = len(rows) + (len(stale) if self.stale_pages == "drop" else 0)
        return _Batch(self._rendered(rows), tried)

    def _send(self, batch: _Batch) -> None:
        """Deliver a claimed batch and record the rows accepted in one statement."""
        groups: dict[tuple[str, int | None], list[queue.Row]] = {}
        for row in batch.rows:
            groups.setdefault((row.channel, row.incident_id), []).append(row)
        delivered = self._deliver_groups(list(groups.values()))
        if delivered:
            accepted = [row for row, _ in delivered]
            # One statement records the whole batch: a storm costs one commit per batch.
            self._settle(lambda c: queue.mark_delivered_many(
                c, accepted, worker=self.name, now=self.clock()), deliveries=len(accepted))  # fmt: skip
            # Counted once a channel type, not once a row: a storm's batch is 200 of one type.
            for channel_type, count in Tally(kind for _, kind in delivered).items():
                self.metrics.notifications.labels(
                    channel_type=channel_type, result="delivered"
                ).inc(count)
        for row in batch.rows:
            self._notices.pop(row.id, None)

    def _rendered(self, rows: list[queue.Row]) -> list[queue.Row]:
        """Return the rows with the pages queued unrendered rendered, read after the claim.

        If the database cannot be read, the claimed rows are given back before the error
        goes up, so the next look (here or at another replica) takes them at once.
        """
        if self.render is None or not any(RENDER in row.payload for row in rows):
            return rows
        try:
            with self.store.connect() as conn:
                payloads = self.render(conn, rows)
        except (BridgeError, SQLAlchemyError):
            self._settle(lambda c: queue.release(c, rows, worker=self.name))
            raise
        return [row.carrying(payloads[row.id]) if row.id in payloads else row for row in rows]

    def _deliver_groups(self, groups: list[list[queue.Row]]) -> list[tuple[queue.Row, str]]:
        """Deliver the groups side by side on the delivery threads; return the rows accepted.

        Each thread takes the next group not yet taken until none is left, so a group that
        hangs holds one thread while the others go on. One task a thread rather than one a
        group: a storm's batch is hundreds of groups of one row each.
        """
        if len(groups) <= 1 or self.parallel == 1:
            return [item for group in groups for item in self._deliver_in_turn(group)]
        waiting = iter(groups)
        taking = threading.Lock()

        def lane() -> list[tuple[queue.Row, str]]:
            accepted: list[tuple[queue.Row, str]] = []
            while True:
                with taking:
                    group = next(waiting, None)
                if group is None:
                    return accepted
                accepted.extend(self._deliver_in_turn(group))

        pool = self._workers()
        lanes = [pool.submit(lane) for _ in range(min(self.parallel, len(groups)))]
        return [item for done in lanes for item in done.result()]

    def _workers(self) -> ThreadPoolExecutor:
        """Return the delivery threads, started once and kept for every batch."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.parallel, thread_name_prefix="tocsin-outbox")
        return self._pool

    def _deliver_in_turn(self, rows: list[queue.Row]) -> list[tuple[queue.Row, str]]:
        """Deliver one group's rows in order, renewing their lease; return those accepted."""
        delivered: list[tuple[queue.Row, str]] = []
        renewed = time.monotonic()
        for index, row in enumerate(rows):
            if self._stop.is_set():
                # Not tried: given back, so a restart or another replica sends them at once
                # rather than after this worker's lease and the hold kept for it.
                self._settle(lambda c, rest=rows[index:]: queue.release(  # type: ignore[misc]
                    c, rest, worker=self.name))  # fmt: skip
                break
            if time.monotonic() - renewed > self.lease.total_seconds() / 2:
                # A slow receiver must not let the rows still waiting here be claimed elsewhere.
                self._settle(lambda c, rest=rows[index:]: queue.renew(  # type: ignore[misc]
                    c, rest, worker=self.name, now=self.clock(), lease=self.lease))  # fmt: skip
                renewed = time.monotonic()
            channel_type = self._deliver(row)
            if channel_type is not None:
                delivered.append((row, channel_type))
        return delivered

    def _settle(self, write: Callable[[Connection], object], deliveries: int = 0) -> None:
        """Run a write recording deliveries, retrying while the database cannot be reached.

        A success that is not recorded would be delivered again once the lease runs out, so the
        write is retried (with backoff) for up to `mark_patience`, even while stopping; the
        `deliveries` it would have recorded are counted if it gives up.
        """
        wait, deadline = 0.05, time.monotonic() + self.mark_patience
        while True:
            try:
                with self.store.begin() as conn:
                    write(conn)
                return
            except (SQLAlchemyError, BridgeError) as exc:
                if time.monotonic() + wait > deadline:
                    log.error("outbox: could not record deliveries for %.0fs (%s); those pages "
                              "may be sent again", self.mark_patience, type(exc).__name__)  # fmt: skip
                    self.metrics.unrecorded.inc(deliveries)
                    return
                log.warning("outbox: recording deliveries failed (%s); retrying in %.2fs",
                            type(exc).__name__, wait)  # fmt: skip
                time.sleep(wait)
                wait = min(wait * 2, 5.0)

    def sender(self, channel: str) -> Sender:
        """Return the sender for a row's channel (a policy channel, or mailto:ADDRESS)."""
        if channel.startswith(queue.MAILTO):
            return EmailSender("email", {}, self.smtp, tls_context=self.tls_context)
        if channel == REPORTER_CHANNEL:
            return ReporterMailSender(self.smtp, tls_context=self.tls_context)
        with self._building:
            return self._sender(channel)

    def _sender(self, channel: str) -> Sender:
        if channel not in self._senders:
            configured = self.policy.channels.get(channel)
            if configured is None:
                raise ConfigError(f"channel {channel!r} is no longer in the policy")
            self._senders[channel] = build_sender(
                configured,
                smtp=self.smtp,
                tls_context=self.tls_context,
                session=self.session if self._shared_session else self._channel_session(configured),
                clock=self.clock,
                store=self.store,
                registry=self.registry,
            )
        return self._senders[channel]

    def _channel_session(self, channel: Channel) -> requests.Session:
        """Return a session of its own for a channel: keep-alive connections for each thread.

        The environment's proxy settings for the channel's URL are read once, here, rather than
        on every request (requests scans the environment and ~/.netrc each time otherwise).
        """
        session = requests.Session()
        url = setting_secret(channel.settings, "url", channel=channel.name, required=False)
        if url:
            session.proxies = dict(requests.utils.get_environ_proxies(url))
            session.trust_env = False
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=self.parallel)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def _deliver(self, row: queue.Row) -> str | None:
        """Deliver one row; return its channel type if accepted (recorded by the caller), else None."""
        channel_type = "email" if row.channel.startswith(queue.MAILTO) else "unknown"
        if row.channel == REPORTER_CHANNEL:
            channel_type = ReporterMailSender.type
        try:
            sender = self.sender(row.channel)
            channel_type = sender.type
            if row.maybe_sent:
                self._repeating(row, channel_type)
            payload = row.payload
            if "message" not in payload:
                reason = "its incident or event no longer exists: the page cannot be rendered"
                self._failed(row, channel_type, reason, None, refused=True)
                return None
            message = Message.from_json(payload["message"])
            notice = self._notices.get(row.id)
            if notice is not None:
                message = stale_notice(message, notice)
            sender.deliver(
                Notification(
                    key=row.idempotency_key,
                    body=payload["body"],
                    message=message,
                    to=tuple(payload.get("to") or ()),
                    recipient=row.recipient,
                )
            )
        except DeliveryRefused as exc:
            self._failed(row, channel_type, exc.message, None, refused=True)
            return None
        except BridgeError as exc:
            self._failed(row, channel_type, exc.message, getattr(exc, "retry_after", None))
            return None
        except Exception as exc:  # a bad row must not stall the queue: count it as an attempt
            log.exception("outbox entry %s: unexpected error", row.id)
            self._failed(row, channel_type, f"internal error: {type(exc).__name__}", None)
            return None
        return channel_type

    def _repeating(self, row: queue.Row, channel_type: str) -> None:
        """Count and log a page sent again because its earlier sending was never recorded."""
        idempotent = channel_type in IDEMPOTENT
        self.metrics.repeats.labels(
            channel_type=channel_type, idempotent="true" if idempotent else "false"
        ).inc()
        log.warning("outbox entry %s to %s: an earlier attempt may have been accepted but was "
                    "never recorded; sending it again with key %s (%s)", row.id,
                    _shown(row.channel), row.idempotency_key,
                    "the receiver can fold it by that key" if idempotent
                    else f"{channel_type} cannot fold a repeat: it may be seen twice")  # fmt: skip

    def _failed(
        self,
        row: queue.Row,
        channel_type: str,
        reason: str,
        retry_after: float | None,
        *,
        refused: bool = False,
    ) -> None:
        attempts = row.attempts + 1
        now = self.clock()
        retry_at = None
        age = (now - row.created_at).total_seconds()
        if not refused and not self.retry.gives_up(attempts, age):
            wait = self.retry.delay(attempts, self.rand())
            # A receiver's Retry-After is honoured up to the cap: a page must not wait longer.
            wait = max(wait, min(retry_after or 0.0, self.retry.cap))
            retry_at = now + timedelta(seconds=wait)
        self._settle(lambda c: queue.mark_failed(
            c, row, worker=self.name, error=reason, retry_at=retry_at))  # fmt: skip
        result = "failed" if retry_at else "dead"
        self.metrics.notifications.labels(channel_type=channel_type, result=result).inc()
        if refused:
            log.error("outbox entry %s to %s is a dead letter: the receiver refused it, retrying "
                      "cannot help: %s", row.id, _shown(row.channel), reason)  # fmt: skip
        elif retry_at is None:
            log.error("outbox entry %s to %s is a dead letter after %d attempts over %s: %s",
                      row.id, _shown(row.channel), attempts, timedelta(seconds=int(age)),
                      reason)  # fmt: skip
        if retry_at is None and self.on_dead is not None:
            try:
                self.on_dead(row, reason)
            except (BridgeError, SQLAlchemyError) as exc:
                log.error("outbox entry %s: recording its dead letter on incident %s failed: %s",
                          row.id, row.incident_id, type(exc).__name__)  # fmt: skip
        else:
            log.warning("outbox entry %s to %s failed (attempt %d): %s",
                        row.id, _shown(row.channel), attempts, reason)  # fmt: skip


def _shown(channel: str) -> str:
    """Return a channel for logs (a mail address is personal data only in part: keep the domain)."""
    if channel.startswith(queue.MAILTO):
        return "mail to *@" + channel.rpartition("@")[2]
    return channel
