"""The Store: one engine over SQLite or PostgreSQL, write transactions that never hang.

SQLite runs in WAL mode with foreign keys on; a write transaction starts with BEGIN IMMEDIATE
so two writers queue on the busy timeout instead of failing half-way with a deadlock. Every
database failure that a retry can cure (locked, unreachable, pool exhausted, serialization)
surfaces as StoreUnavailable, which the API answers with 503 and Retry-After.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Row, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tocsin.bridge.errors import ConfigError, NotFound, Overloaded, StoreUnavailable
from tocsin.bridge.platform.config import sqlite_path
from tocsin.bridge.store import engine as engines
from tocsin.bridge.store.engine import BEGIN_OPTION, Timeouts
from tocsin.bridge.store.group import GroupCommit, Job, smoothed
from tocsin.bridge.store.schema import incidents
from tocsin.bridge.store.writelock import WriterLock

# Topics a write transaction announced (see announce()), kept on its connection until it ends.
_TOPICS = "tocsin.announced"
DEFAULT_BUSY_TIMEOUT = 5.0
DEFAULT_RETRY_AFTER = 2
SOLO_WRITERS = 4  # PostgreSQL writes of their own at once (see Store.__init__)
T = TypeVar("T")


class Store:
    """Own the engine; hand out read connections and write transactions."""

    def __init__(
        self,
        url: str,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        pool_size: int = 10,
        retry_after: int = DEFAULT_RETRY_AFTER,
        sqlite_synchronous: str = "full",
        statement_timeout: float = 30.0,
        idle_in_transaction_timeout: float = 10.0,
        max_queued: int = 5000,
        queue_timeout: float = 1.0,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        self.retry_after = retry_after
        timeouts = Timeouts(busy_timeout, statement_timeout, idle_in_transaction_timeout)
        self.engine, self._watchdog = engines.create(url, timeouts, pool_size, sqlite_synchronous)
        path = sqlite_path(url)
        if path is not None and not path.parent.exists():
            raise ConfigError(
                f"database_url {url!r}: directory {path.parent} does not exist; create it or change database_url"
            )
        # SQLite has one writer at a time; queueing writers on a lock (this process's threads,
        # then other processes on the file) hands the database over at once, where SQLite's
        # busy handler would sleep and poll.
        self._write_lock = WriterLock(path) if self.dialect == "sqlite" else None
        self.group = GroupCommit(
            self._run_group,
            max_weight=max_queued,
            wait=queue_timeout,
            retry_after=retry_after,
            on_wait=on_wait,
        )
        # PostgreSQL commits concurrent transactions in parallel: there only works that merge
        # into one batch share a transaction (single alerts: 8 requests' statements become one
        # set); others measured slower shared (batched new alerts 550-660/s against 970-1,200/s).
        self.share_all_writes = self.dialect == "sqlite"
        # Those run in parallel, but at most SOLO_WRITERS at once: their Python work shares one
        # interpreter lock, so more only lengthens each (100-alert requests under a burst: a
        # slowest answer of 6.7 s with 20 at once); the next waits at most queue_timeout.
        self._solo = threading.BoundedSemaphore(SOLO_WRITERS)
        self._solo_waiting = 0
        self._solo_seconds = 0.0  # how long one took of late, smoothed; 0: not known
        self._listeners: dict[str, list[Callable[[], None]]] = {}

    def listen(self, topic: str, callback: Callable[[], None]) -> None:
        """Call `callback` after each commit of a write transaction that announced `topic`."""
        self._listeners.setdefault(topic, []).append(callback)

    @property
    def dialect(self) -> str:
        """Return 'sqlite' or 'postgresql'."""
        return str(self.engine.dialect.name)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """Yield a connection in a write transaction; commit on success, roll back on error.

        Once it committed, the listeners of the topics it announced are called.
        """
        with self._writer(), self._translated():
            with self.engine.connect() as conn:
                conn.info.pop(_TOPICS, None)
                conn.execution_options(**{BEGIN_OPTION: "IMMEDIATE"})
                try:
                    with conn.begin():
                        yield conn
                finally:
                    topics: set[str] = conn.info.pop(_TOPICS, set())
        for topic in sorted(topics):
            for callback in self._listeners.get(topic, ()):
                callback()

    def write_shared(
        self,
        work: Callable[[Connection], T],
        abandoned: threading.Event | None = None,
        since: float | None = None,
    ) -> T:
        """Run `work` in a write transaction that concurrent callers share: one commit, one fsync.

        The callers waiting while a transaction commits go together into the next one, each in
        a savepoint: work that raises rolls back alone and raises to its caller; the others
        commit. Works with the same `merge(conn, works) -> results` attribute first run as one,
        in one savepoint; if that raises, each runs alone as above. Every caller returns only
        after the commit that holds its work; if that commit fails, every caller in it gets the
        error. On PostgreSQL a work without `merge` runs in a transaction of its own.

        The wait is bounded (see tocsin.bridge.store.group; a write of its own waits for one of
        SOLO_WRITERS places only while it could still commit in time): the work should be
        committed within the queue timeout of `since` (its request's arrival, time.monotonic();
        now if not given). Overloaded when the queue is full, when the work could no longer be
        committed in time at the recent pace, or when `abandoned` was set before a transaction
        took it; the work is then not run. A work's `weight` attribute (its alerts) counts
        against the queue's bound.
        """
        since = time.monotonic() if since is None else since
        if not self.share_all_writes and getattr(work, "merge", None) is None:
            return self._write_alone(work, abandoned, since)
        return self.group.submit(Job(work, int(getattr(work, "weight", 1)), abandoned, since))

    def refusal(self) -> Overloaded | None:
        """Return why a new write would be refused now (its queue is full), or None.

        A write of its own would wait for those waiting before it, then take its own time.
        """
        waiting = self._solo_waiting
        if waiting >= SOLO_WRITERS or (
            waiting and (waiting / SOLO_WRITERS + 1) * self._solo_seconds > self.group.wait
        ):
            return Overloaded(
                f"{waiting} writes wait for one of {SOLO_WRITERS} writers, about "
                f"{self._solo_seconds:.2f}s each (limits.queue_timeout {self.group.wait:g}s); retry",
                self.retry_after,
                "queue_full",
            )
        return self.group.refusal()

    def _write_alone(
        self, work: Callable[[Connection], T], abandoned: threading.Event | None, since: float
    ) -> T:
        """Write in a transaction of its own once one of SOLO_WRITERS places is free in time.

        It waits for a place only while it could still commit within the queue timeout of
        `since` at the recent time a write took (counted at most half that timeout, so a slow
        pace never starves the writers).
        """
        wait = self.group.wait
        latest = since + wait - min(self._solo_seconds, wait / 2)
        with self.group.cond:
            self._solo_waiting += 1
        try:
            free = self._solo.acquire(timeout=max(0.0, latest - time.monotonic()))
        finally:
            with self.group.cond:
                self._solo_waiting -= 1
        if not free:
            raise Overloaded(
                f"not committed within {wait:g}s (limits.queue_timeout); retry",
                self.retry_after,
                "queue_timeout",
            )
        started = time.monotonic()
        try:
            if abandoned is not None and abandoned.is_set():
                raise Overloaded("the sender went away", self.retry_after, "gone")
            with self.begin() as conn:
                return work(conn)
        finally:
            self._solo.release()
            took = time.monotonic() - started
            with self.group.cond:
                self._solo_seconds = smoothed(self._solo_seconds, took)

    def _run_group(self, jobs: list[Job[Any]]) -> None:
        try:
            with self.begin() as conn:
                if len(jobs) == 1:
                    # Alone in the transaction: its failure rolls it all back; no savepoint needed.
                    jobs[0].result = jobs[0].work(conn)
                else:
                    self._run_jobs(conn, jobs)
        except BaseException as exc:
            for job in jobs:
                job.error = job.error or exc
                job.result = None
            if not isinstance(exc, Exception):
                raise
        finally:
            for job in jobs:
                job.finished = True

    def _run_jobs(self, conn: Connection, jobs: list[Job[Any]]) -> None:
        """Run each job in a savepoint; jobs offering the same `merge` first try it together."""
        by_merge: dict[Any, list[Job[Any]]] = {}
        for job in jobs:
            by_merge.setdefault(getattr(job.work, "merge", None), []).append(job)
        for merge, group in by_merge.items():
            if merge is not None and len(group) > 1 and self._run_merged(conn, merge, group):
                continue
            for job in group:
                self._run_in_savepoint(conn, job)

    def _run_merged(self, conn: Connection, merge: Any, group: list[Job[Any]]) -> bool:
        """Run a group's works as one (fewer statements); False if that failed and rolled back."""
        try:
            with self._translated(), conn.begin_nested():
                results = merge(conn, [job.work for job in group])
        except Exception:
            if not _in_transaction(conn):
                raise  # SQLite rolled the whole transaction back: nothing here may commit
            return False  # each job is tried alone, so only a failing one fails
        for job, result in zip(group, results, strict=True):
            job.result = result
        return True

    def _run_in_savepoint(self, conn: Connection, job: Job[Any]) -> None:
        try:
            with self._translated(), conn.begin_nested():
                job.result = job.work(conn)
        except Exception as exc:
            job.error = exc
            if not _in_transaction(conn):
                raise  # SQLite rolled the whole transaction back: nothing here may commit

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """Yield a connection for reads (a deferred transaction, rolled back at the end)."""
        with self._translated():
            with self.engine.connect() as conn:
                yield conn

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, and in tests between databases)."""
        self.engine.dispose()
        if self._watchdog is not None:
            self._watchdog.stop()

    @contextmanager
    def _writer(self) -> Iterator[None]:
        if self._write_lock is None:
            yield
            return
        try:
            taken = self._write_lock.acquire(timeout=self.busy_timeout)
        except OSError as exc:
            raise StoreUnavailable(
                f"database writer lock file: {exc.strerror} ({exc.filename})", self.retry_after
            ) from exc
        if not taken:
            raise StoreUnavailable(
                f"database busy: another write held it for over {self.busy_timeout}s",
                self.retry_after,
            )
        try:
            yield
        finally:
            self._write_lock.release()

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except PoolTimeout as exc:
            raise StoreUnavailable(
                f"database busy: no free connection within {self.busy_timeout}s",
                self.retry_after,
            ) from exc
        except DBAPIError as exc:
            if not _retryable(exc):
                raise
            raise StoreUnavailable(
                f"database unavailable: {engines.first_line(exc.orig)}", self.retry_after
            ) from exc


def announce(conn: Connection, topic: str) -> None:
    """Have the write transaction on `conn` call the topic's listeners once it commits."""
    conn.info.setdefault(_TOPICS, set()).add(topic)


def _in_transaction(conn: Connection) -> bool:
    dbapi = conn.connection.dbapi_connection
    return bool(getattr(dbapi, "in_transaction", True))


def lock_incident(conn: Connection, incident_id: int) -> Row[Any]:
    """Return an incident row locked for this transaction (FOR UPDATE; SQLite holds the db lock)."""
    row = conn.execute(
        select(incidents).where(incidents.c.id == incident_id).with_for_update()
    ).first()
    if row is None:
        raise NotFound(f"no incident {incident_id}")
    return row


def _retryable(exc: DBAPIError) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    # psycopg: serialization failures and deadlocks are worth a retry by the sender.
    code = getattr(exc.orig, "sqlstate", None)
    return isinstance(code, str) and code.startswith(("40", "08", "57"))
