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
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine, Row, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from tocsin.bridge.errors import ConfigError, NotFound, StoreUnavailable
from tocsin.bridge.platform.config import sqlite_path
from tocsin.bridge.store.schema import incidents

DEFAULT_BUSY_TIMEOUT = 5.0
DEFAULT_RETRY_AFTER = 2
PING_AFTER_IDLE = 2.0  # seconds a pooled PostgreSQL connection may rest before it is checked
# Most writes one shared transaction takes: bounds how long it holds SQLite's write lock.
GROUP_LIMIT = 16
_BEGIN_OPTION = "tocsin_sqlite_begin"
T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    """One caller's work in a shared transaction, and what became of it."""

    work: Callable[[Connection], T]
    result: T | None = None
    error: BaseException | None = None
    finished: bool = False


@dataclass
class _Group:
    """Callers waiting to share the next transaction; one of them leads it."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    queue: list[_Job[Any]] = field(default_factory=list)
    leading: bool = False


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
    ) -> None:
        self.url = url
        self.busy_timeout = busy_timeout
        self.retry_after = retry_after
        self.engine = _create_engine(url, busy_timeout, pool_size, sqlite_synchronous)
        # SQLite has one writer at a time; queueing this process's writers on a lock hands the
        # database over at once, where SQLite's busy handler would sleep and poll.
        self._write_lock = threading.RLock() if self.dialect == "sqlite" else None
        self._group = _Group()
        # PostgreSQL commits concurrent transactions in parallel: there only works that merge
        # into one batch share a transaction (single alerts: 8 requests' statements become one
        # set); others measured slower shared (batched new alerts 550-660/s against 970-1,200/s).
        self.share_all_writes = self.dialect == "sqlite"

    @property
    def dialect(self) -> str:
        """Return 'sqlite' or 'postgresql'."""
        return str(self.engine.dialect.name)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """Yield a connection in a write transaction; commit on success, roll back on error."""
        with self._writer(), self._translated():
            with self.engine.connect() as conn:
                conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
                with conn.begin():
                    yield conn

    def write_shared(self, work: Callable[[Connection], T]) -> T:
        """Run `work` in a write transaction that concurrent callers share: one commit, one fsync.

        The callers waiting while a transaction commits go together into the next one, each in
        a savepoint: work that raises rolls back alone and raises to its caller; the others
        commit. Works with the same `merge(conn, works) -> results` attribute first run as one,
        in one savepoint; if that raises, each runs alone as above. Every caller returns only
        after the commit that holds its work; if that commit fails, every caller in it gets the
        error. On PostgreSQL a work without `merge` runs in a transaction of its own.
        """
        if not self.share_all_writes and getattr(work, "merge", None) is None:
            with self.begin() as conn:
                return work(conn)
        job: _Job[T] = _Job(work)
        group = self._group
        with group.cond:
            group.queue.append(job)
        while True:
            with group.cond:
                while group.leading and not job.finished:
                    group.cond.wait()
                if job.finished:
                    break
                group.leading = True
                taken, group.queue[:GROUP_LIMIT] = group.queue[:GROUP_LIMIT], []
            try:
                self._run_group(taken)
            finally:
                with group.cond:
                    group.leading = False
                    group.cond.notify_all()
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _run_group(self, jobs: list[_Job[Any]]) -> None:
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

    def _run_jobs(self, conn: Connection, jobs: list[_Job[Any]]) -> None:
        """Run each job in a savepoint; jobs offering the same `merge` first try it together."""
        by_merge: dict[Any, list[_Job[Any]]] = {}
        for job in jobs:
            by_merge.setdefault(getattr(job.work, "merge", None), []).append(job)
        for merge, group in by_merge.items():
            if merge is not None and len(group) > 1 and self._run_merged(conn, merge, group):
                continue
            for job in group:
                self._run_in_savepoint(conn, job)

    def _run_merged(self, conn: Connection, merge: Any, group: list[_Job[Any]]) -> bool:
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

    def _run_in_savepoint(self, conn: Connection, job: _Job[Any]) -> None:
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

    @contextmanager
    def _writer(self) -> Iterator[None]:
        if self._write_lock is None:
            yield
            return
        if not self._write_lock.acquire(timeout=self.busy_timeout):
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
                f"database unavailable: {_first_line(exc.orig)}", self.retry_after
            ) from exc


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


def _first_line(exc: BaseException | None) -> str:
    text = str(exc or "unknown error").strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _create_engine(url: str, busy_timeout: float, pool_size: int, synchronous: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"database_url {url!r} is not a URL; expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from exc
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            path = sqlite_path(url)
            if path is not None and not path.parent.exists():
                raise ConfigError(
                    f"database_url {url!r}: directory {path.parent} does not exist; create it or change database_url"
                )
            # Waiting past the busy timeout for a pooled connection is an outage: 503, no hang.
            pooling = (
                {
                    "pool_size": pool_size,
                    "max_overflow": pool_size * 2,
                    "pool_timeout": busy_timeout,
                }
                if path is not None
                else {}
            )
            engine = create_engine(
                parsed,
                connect_args={"timeout": busy_timeout, "check_same_thread": False},
                **pooling,
            )
            _configure_sqlite(engine, busy_timeout, synchronous)
            return engine
        if backend == "postgresql":
            timeout_ms = int(busy_timeout * 1000)
            engine = create_engine(
                parsed,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_timeout=busy_timeout,
                connect_args={
                    "connect_timeout": max(1, int(busy_timeout + 0.999)),
                    # A row lock held past the busy timeout is an outage to the sender: 503, not a hang.
                    "options": f"-c lock_timeout={timeout_ms} -c statement_timeout=30000",
                },
            )
            _ping_after_idle(engine)
            return engine
    except NoSuchModuleError as exc:
        raise ConfigError(f"database_url {url!r}: driver not installed: {exc}") from exc
    raise ConfigError(
        f"database_url {url!r}: unsupported database {backend!r}; use sqlite:/// or postgresql+psycopg://"
    )


def _ping_after_idle(engine: Engine) -> None:
    """Check a pooled PostgreSQL connection before use only if it sat idle for a while.

    One that served a transaction a moment ago is alive; pinging on every checkout (SQLAlchemy's
    pool_pre_ping) is a round trip per transaction. A server restart while connections are busy
    fails one transaction, whose error invalidates the whole pool.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the pool discards it and checks out another (or connects)
            raise DisconnectionError(f"pooled connection is gone: {_first_line(exc)}") from exc


def _configure_sqlite(engine: Engine, busy_timeout: float, synchronous: str) -> None:
    if synchronous not in ("full", "normal"):
        raise ConfigError(f"sqlite_synchronous {synchronous!r} is not 'full' or 'normal'")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # FULL (default): a 2xx means the alert survives power loss. NORMAL survives a crash of
        # the bridge (kill -9) but may lose the last commits to a power cut; it is ~10x faster.
        # Take transaction control from the sqlite3 module so BEGIN IMMEDIATE is ours to emit.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
