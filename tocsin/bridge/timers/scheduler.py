"""The scheduler: fires due timers exactly once, whichever replica claims them.

A replica claims due rows for a lease (FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas never
wait on each other; SQLite has one writer anyway), then fires them in one transaction: for each
timer it locks the incident first, as every incident action does, then re-reads the timer row
under lock and fires it only if it is still pending. So an acknowledgement that committed first
cancels an escalation step before it can page, and two replicas never fire one timer twice. A
replica that dies mid-way rolls back; its lease expires and another replica fires the timers.

Timers of one kind and of distinct incidents that fall due together go to their handler's
`many` at once when it offers one (see tocsin.bridge.timers.rows.Batched), so a burst of new incidents costs a few
statements per chunk rather than several per timer.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Gauge, Histogram
from sqlalchemy import BigInteger, Connection, Float, bindparam, cast, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from tocsin.bridge.errors import BridgeError
from tocsin.bridge.platform.clock import Clock, as_utc, utcnow
from tocsin.bridge.platform.metrics import Metrics
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import incidents, timers
from tocsin.bridge.timers.rows import (
    ManyHandler,
    Prepared,
    Timer,
    TimerHandler,
    from_row,
    pending_clause,
)

log = logging.getLogger(__name__)

# Timers fired per transaction: each transaction's fixed statements (and SQLite's fsync) cost,
# so a chunk of 50 fires a due timer for about half the CPU of a chunk of 10 on both databases
# (SQLite 0.23 against 0.5 ms). It holds SQLite's single write lock about 15 ms; senders wait
# on it no longer than that, and go in between chunks.
CHUNK = 50
LAG_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 3600.0)


# A chunk's timers marked fired: per row on SQLite, from two arrays on PostgreSQL.
_FIRED = (
    update(timers)
    .where(timers.c.id == bindparam("timer_id"))
    .values(fired_at=bindparam("at"), lag_seconds=bindparam("lag"))
)
_LAGS = (
    func.unnest(
        cast(bindparam("ids", type_=ARRAY(BigInteger)), ARRAY(BigInteger)),
        cast(bindparam("lags", type_=ARRAY(Float)), ARRAY(Float)),
    )
    .table_valued("id", "lag")
    .render_derived()
)
_FIRED_UNNEST = (
    update(timers)
    .where(timers.c.id == _LAGS.c.id)
    .values(fired_at=bindparam("at"), lag_seconds=_LAGS.c.lag)
)


def _mark_fired(conn: Connection, fired: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """Set fired_at and each timer's lag: executemany on SQLite, one statement on PostgreSQL.

    psycopg's executemany costs about as much Python per row as a statement each; the unnest
    form sends the ids and lags as two arrays in one short text that is prepared once.
    """
    if not fired:
        return
    if conn.dialect.name == "postgresql":
        ids = [item["timer_id"] for item in fired]
        conn.execute(
            _FIRED_UNNEST, {"ids": ids, "lags": [item["lag"] for item in fired], "at": now}
        )
    else:
        conn.execute(_FIRED, [{**item, "at": now} for item in fired])


def _lag(timer: Timer, now: datetime) -> float:
    return max(0.0, (now - timer.due_at).total_seconds())


def _is_pending(row: Any) -> bool:
    return row.fired_at is None and not row.cancelled


# The next pending timer still to come, read off ix_timers_pending in its own order: PostgreSQL
# computes min(due_at) by visiting every pending timer (5 ms with 10,000), this is one probe.
# Only future ones: the range then starts past the timers just fired, whose dead entries would
# be walked first. Overdue ones are the claim's business; one leased elsewhere is looked at
# again within the poll interval.
_SOONEST = (
    select(timers.c.due_at)
    .where(*pending_clause(), timers.c.due_at > bindparam("now"))
    .order_by(timers.c.fired_at, timers.c.cancelled, timers.c.due_at)
    .limit(1)
)


# A pass's statements, built once: values travel as parameters, so each compiles once.
_CLAIMABLE = (
    select(timers.c.id, timers.c.kind)
    .where(
        *pending_clause(),
        timers.c.due_at <= bindparam("now"),
        (timers.c.claimed_until.is_(None)) | (timers.c.claimed_until < bindparam("now")),
    )
    # Ties fire in the order they were set, on PostgreSQL as on SQLite (whose index holds rowid).
    .order_by(timers.c.due_at, timers.c.id)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True)
)
_CLAIM = (
    update(timers)
    .where(in_list(timers.c.id, "ids"))
    .values(claimed_by=bindparam("name"), claimed_until=bindparam("until"))
)
_OWNERS = select(timers.c.incident_id).where(in_list(timers.c.id, "ids"))
_LOCK_INCIDENTS = (
    select(incidents.c.id)
    .where(in_list(incidents.c.id, "ids"))
    .order_by(incidents.c.id)
    .with_for_update()
)
# By key only; still pending and due order are checked in Python: with them in SQL, SQLite
# walks the pending index (every pending timer) instead of looking up the batch's rows.
_LOCK_TIMERS = (
    select(timers).where(in_list(timers.c.id, "ids")).order_by(timers.c.id).with_for_update()
)
_READ_TIMERS = select(timers).where(in_list(timers.c.id, "ids"))
_STILL_PENDING = select(timers.c.id).where(timers.c.id == bindparam("id"), *pending_clause())


class Scheduler:
    """The worker that fires due timers: start() spawns its thread, stop() joins it."""

    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, TimerHandler],
        *,
        clock: Clock = utcnow,
        metrics: Metrics | None = None,
        name: str | None = None,
        batch: int = 200,
        chunk: int = CHUNK,
        pause: float = 0.002,
        lease: timedelta = timedelta(seconds=30),
        poll_interval: float = 1.0,
        late_after: float = 5.0,
        grace: float = 0.25,
        tick: float = 0.05,
    ) -> None:
        self.store = store
        self.handlers = dict(handlers)
        self.clock = clock
        # Host and process first: an operator (or a test) can tell whose claim a timer holds.
        self.name = (
            name or f"{socket.gethostname()[:60]}:{os.getpid()}:timers-{uuid.uuid4().hex[:8]}"
        )
        self.batch = batch
        self.chunk = max(1, chunk)
        self.pause = pause
        self.lease = lease
        self.poll_interval = poll_interval
        self.late_after = late_after
        self.grace = grace
        self.tick = tick
        self.started_at: datetime | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._hint_lock = threading.Lock()
        self._hint: datetime | None = None
        self._thread: threading.Thread | None = None
        registry = metrics.registry if metrics is not None else CollectorRegistry()
        self.lag = Histogram(
            "tocsin_bridge_timer_lag_seconds",
            "How late timers fired after their due time.",
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        if metrics is not None:
            metrics.on_scrape(self._refresh_pending(metrics))

    def _refresh_pending(self, metrics: Metrics) -> Callable[[], None]:
        gauge = Gauge(
            "tocsin_bridge_timers_pending",
            "Timers waiting to fire (including those of paused incidents).",
            registry=metrics.registry,
        )

        def refresh() -> None:
            try:
                with self.store.connect() as conn:
                    gauge.set(self.count_pending(conn))
            except BridgeError:
                log.warning("cannot count pending timers: database unavailable")

        return refresh

    @staticmethod
    def count_pending(conn: Connection) -> int:
        """Return how many timers are waiting to fire."""
        query = select(func.count()).select_from(timers).where(*pending_clause())
        return int(conn.execute(query).scalar_one())

    def wake(self, due_at: datetime | None = None) -> None:
        """Tell the loop a timer was scheduled (it may be sooner than what it waits for)."""
        with self._hint_lock:
            if due_at is not None:
                due_at = as_utc(due_at)
                self._hint = due_at if self._hint is None else min(self._hint, due_at)
        self._wake.set()

    def start(self) -> None:
        """Start the loop in a daemon thread; overdue timers fire at once, marked late."""
        if self._thread is not None:
            return
        self.started_at = self.clock()
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the loop and wait for the batch in hand to finish."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                fired = self.run_once()
                if fired >= self.batch:
                    continue
                delay = self._delay()
            except BridgeError as exc:
                log.warning("timer scheduler: %s; retrying in %ss", exc, self.poll_interval)
                delay = self.poll_interval
            except Exception:  # the loop must survive a bug in one pass and keep firing others
                log.exception("timer scheduler pass failed")
                delay = self.poll_interval
            if delay > 0:
                self._wake.wait(delay)
            self._wake.clear()
            # Every new timer wakes the loop (under load, hundreds of new incidents a second):
            # a pass at most once a tick, so timers falling due together fire together.
            self._stopping.wait(self._min_pass - (time.monotonic() - started))

    def _delay(self) -> float:
        now = self.clock()
        with self.store.connect() as conn:
            soonest = conn.execute(_SOONEST, {"now": now}).scalar()
        delay = self.poll_interval
        if soonest is not None:
            delay = min(delay, (as_utc(soonest) - now).total_seconds())
        with self._hint_lock:
            hint = self._hint
            # A hint comes from a transaction that may not have committed yet: look again
            # shortly until the grace period after it is over.
            if hint is not None and (now - hint).total_seconds() > self.grace:
                self._hint = hint = None
        if hint is not None:
            wait = (hint - now).total_seconds()
            delay = min(delay, wait if wait > 0 else min(0.02, self.grace))
        # Timers falling due close together fire together: one transaction per tick, not each.
        return max(delay, self._min_pass)

    @property
    def _min_pass(self) -> float:
        return min(self.tick, self.poll_interval)

    def run_once(self) -> int:
        """Claim and fire the timers due now; return how many were claimed.

        They fire in transactions of at most `chunk` timers, with a short pause between, so
        locks are never held for long and writers waiting on them (senders) go between.
        """
        now = self.clock()
        claimed = self._claim(now)
        for start in range(0, len(claimed), self.chunk):
            if start:
                self._stopping.wait(self.pause)
            self._fire(claimed[start : start + self.chunk])
        return len(claimed)

    def _claim(self, now: datetime) -> list[tuple[int, str]]:
        with self.store.begin() as conn:
            found = conn.execute(_CLAIMABLE, {"now": now, "limit": self.batch}).all()
            claimed = [(int(row.id), str(row.kind)) for row in found]
            if claimed:
                ids = [timer_id for timer_id, _ in claimed]
                conn.execute(_CLAIM, {"ids": ids, "name": self.name, "until": now + self.lease})
        return claimed

    def _fire(self, claimed: list[tuple[int, str]]) -> None:
        ids = [timer_id for timer_id, _ in claimed]
        prepared = self._prepare(
            [i for i, kind in claimed if isinstance(self.handlers.get(kind), Prepared)]
        )
        try:
            with self.store.begin() as conn:
                self._fire_batch(conn, ids, prepared)
            return
        except Exception:  # one timer's failure must not hold back the rest of the batch
            if len(ids) == 1:
                log.exception("timer %s failed; it is retried when its lease ends", ids[0])
                return
        for timer_id in ids:
            try:
                with self.store.begin() as conn:
                    self._fire_batch(conn, [timer_id], prepared)
            except Exception:
                log.exception("timer %s failed; it is retried when its lease ends", timer_id)

    def _prepare(self, ids: list[int]) -> dict[int, Any]:
        """Run the Prepared handlers' reading before the fire transaction: no write lock held.

        A timer whose preparing fails is left out; it is not fired, and is retried when its
        lease ends.
        """
        if not ids:
            return {}
        now = self.clock()
        with self.store.connect() as conn:
            rows = [row for row in conn.execute(_READ_TIMERS, {"ids": ids}) if _is_pending(row)]
        done: dict[int, Any] = {}
        for row in rows:
            timer = self._due(row, now)
            handler = self.handlers[timer.kind]
            assert isinstance(handler, Prepared)
            try:
                with self.store.connect() as conn:
                    done[timer.id] = handler.prepare(conn, timer, now)
            except Exception:
                log.exception("timer %s: preparing failed; retried when its lease ends", timer.id)
        return done

    def _fire_batch(self, conn: Connection, ids: list[int], prepared: Mapping[int, Any]) -> None:
        owners = conn.execute(_OWNERS, {"ids": ids}).scalars()
        incident_ids = sorted({int(i) for i in owners if i is not None})
        if incident_ids:
            # Incidents first, in id order, as every incident action locks them: an action that
            # committed first has cancelled its timers by the time they are read below.
            conn.execute(_LOCK_INCIDENTS, {"ids": incident_ids}).all()
        now = self.clock()
        touched: set[int] = set()
        fired: list[dict[str, Any]] = []
        rows = [row for row in conn.execute(_LOCK_TIMERS, {"ids": ids}).all() if _is_pending(row)]
        ordered = sorted(rows, key=lambda r: (as_utc(r.due_at), r.id))
        owners_seen = Counter(row.incident_id for row in ordered)
        position = 0
        while position < len(ordered):
            many, stretch = self._stretch(ordered, position, owners_seen)
            if many is not None:
                position += len(stretch)
                batch = [self._due(row, now) for row in stretch]
                many(conn, batch, now)
                touched.update(t.incident_id for t in batch if t.incident_id is not None)
                fired.extend({"timer_id": t.id, "lag": _lag(t, now)} for t in batch)
                continue
            row = ordered[position]
            position += 1
            if row.incident_id in touched and not self._still_pending(conn, int(row.id)):
                continue  # an earlier timer of this batch changed the incident and cancelled it
            timer = self._due(row, now)
            handler = self.handlers.get(timer.kind)
            if handler is None:
                log.error(
                    "timer %s: no handler for kind %r; marking it fired", timer.id, timer.kind
                )
            elif isinstance(handler, Prepared):
                if timer.id not in prepared:
                    continue  # its preparing failed: it fires when its lease ends
                handler.fire(conn, timer, prepared[timer.id], now)
            else:
                handler(conn, timer, now)
                if timer.incident_id is not None:
                    touched.add(timer.incident_id)
            fired.append({"timer_id": timer.id, "lag": _lag(timer, now)})
        _mark_fired(conn, fired, now)
        for item in fired:
            self.lag.observe(item["lag"])

    def _due(self, row: Any, now: datetime) -> Timer:
        """Return the timer of a row, marked late when overdue at startup or by late_after."""
        due = as_utc(row.due_at)
        lag = max(0.0, (now - due).total_seconds())
        late = (self.started_at is not None and due < self.started_at) or lag >= self.late_after
        return from_row(row, lag if late else None)

    def _stretch(
        self, ordered: Sequence[Any], start: int, owners: Counter[Any]
    ) -> tuple[ManyHandler | None, Sequence[Any]]:
        """Return the rows from `start` that may fire together through their handler's `many`.

        That is the longest stretch of consecutive timers of one kind whose handler offers
        `many`, each the batch's only timer of its incident: no timer of the stretch can
        cancel or change what another one reads, and timers fire in the same order as one by
        one. A stretch of one fires alone, as does every other timer.
        """
        kind = ordered[start].kind
        many: ManyHandler | None = getattr(self.handlers.get(kind), "many", None)
        if many is None:
            return None, ()
        end = start
        while (
            end < len(ordered)
            and ordered[end].kind == kind
            and ordered[end].incident_id is not None
            and owners[ordered[end].incident_id] == 1
        ):
            end += 1
        return (many, ordered[start:end]) if end - start > 1 else (None, ())

    @staticmethod
    def _still_pending(conn: Connection, timer_id: int) -> bool:
        return conn.execute(_STILL_PENDING, {"id": timer_id}).first() is not None
