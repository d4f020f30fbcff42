"""Build the SQLAlchemy engine for SQLite or PostgreSQL with timeouts that match the leases.

PostgreSQL: the server ends a statement after `statement_timeout`, a lock wait after the busy
timeout, and a session left idle inside a transaction after `idle_in_transaction` (shorter than
the timer lease, so a replica cut off mid-transaction releases its row locks before another
replica may take its timers over). TCP keepalives and `tcp_user_timeout` notice a dead link in
seconds. A link that stays up but goes silent (a blackholing middlebox) is cut by the client:
a statement, commit or ping still running `statement_timeout` plus CLIENT_MARGIN after it
started has its socket shut down, so the caller gets an error instead of hanging.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, NoSuchModuleError

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.platform import jsontext

log = logging.getLogger(__name__)
PING_AFTER_IDLE = 2.0  # seconds a pooled PostgreSQL connection may rest before it is checked
CLIENT_MARGIN = 2.0  # seconds past statement_timeout before the client cuts a silent link
BEGIN_OPTION = "tocsin_sqlite_begin"
SQLITE_POOL = 5  # pooled SQLite connections kept open
SQLITE_CACHE_KIB = 1024  # each one's page cache; the file system's cache holds the rest
# libpq: probe an idle link after 5 s, every 2 s, give up after 3 probes; unacknowledged data
# is given up on after tcp_user_timeout.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
}

# JSON columns (outbox payloads, labels, event data) through orjson: a storm's pages are
# encoded and decoded once each on the way through the outbox.
JSON_CODEC = {"json_serializer": jsontext.dumps, "json_deserializer": jsontext.loads}


@dataclass(frozen=True)
class Timeouts:
    """The database timeouts, in seconds."""

    busy: float = 5.0
    statement: float = 30.0
    idle_in_transaction: float = 10.0


def sqlite_file(parsed: URL) -> bool:
    """Return whether a SQLite URL names a file (not in-memory)."""
    return parsed.database not in (None, "", ":memory:")


def create(
    url: str, timeouts: Timeouts, pool_size: int, synchronous: str
) -> tuple[Engine, Watchdog | None]:
    """Return the engine of `url` and, on PostgreSQL, the watchdog that cuts silent links."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"database_url {url!r} is not a URL; expected sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from exc
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            return _sqlite(parsed, timeouts.busy, pool_size, synchronous), None
        if backend == "postgresql":
            return _postgresql(parsed, timeouts, pool_size)
    except NoSuchModuleError as exc:
        raise ConfigError(f"database_url {url!r}: driver not installed: {exc}") from exc
    raise ConfigError(
        f"database_url {url!r}: unsupported database {backend!r}; use sqlite:/// or postgresql+psycopg://"
    )


def _sqlite(parsed: URL, busy_timeout: float, pool_size: int, synchronous: str) -> Engine:
    # Waiting past the busy timeout for a pooled connection is an outage: 503, no hang.
    # One writer at a time: a few pooled connections serve, the most recently used first, so
    # the page caches that stay resident are few and warm (SQLITE_POOL x SQLITE_CACHE_KIB).
    pooled = min(pool_size, SQLITE_POOL)
    pooling = (
        {
            "pool_size": pooled,
            "max_overflow": pooled * 2,
            "pool_timeout": busy_timeout,
            "pool_use_lifo": True,
        }
        if sqlite_file(parsed)
        else {}
    )
    engine = create_engine(
        parsed,
        connect_args={"timeout": busy_timeout, "check_same_thread": False},
        **JSON_CODEC,
        **pooling,
    )
    _configure_sqlite(engine, busy_timeout, synchronous)
    return engine


def _postgresql(parsed: URL, timeouts: Timeouts, pool_size: int) -> tuple[Engine, Watchdog]:
    options = " ".join(
        [
            f"-c {name}={int(seconds * 1000)}"
            for name, seconds in (
                # A row lock held past the busy timeout is an outage to the sender: 503, not a hang.
                ("lock_timeout", timeouts.busy),
                ("statement_timeout", timeouts.statement),
                ("idle_in_transaction_session_timeout", timeouts.idle_in_transaction),
            )
        ]
        # Sessions in UTC, whatever the server's default: a time sent without a zone is UTC, as
        # everywhere in the bridge, and psycopg returns times in datetime.UTC itself, which the
        # bridge takes as they are, where a zone such as Etc/UTC costs a conversion for each
        # time read (a storm's page reads about ten).
        + ["-c TimeZone=UTC"]
    )
    engine = create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeouts.busy,
        connect_args={
            "connect_timeout": max(1, int(timeouts.busy + 0.999)),
            "options": options,
            "tcp_user_timeout": int(max(timeouts.busy, 1.0) * 2000),
            **KEEPALIVES,
        },
        **JSON_CODEC,
    )
    watchdog = Watchdog(timeouts.statement + CLIENT_MARGIN)
    watchdog.install(engine)
    _ping_after_idle(engine, watchdog)
    return engine, watchdog


class Watchdog:
    """Shut down the socket of a connection whose statement outlived the client timeout."""

    def __init__(self, timeout: float, interval: float = 0.2) -> None:
        self.timeout = timeout
        self.interval = interval
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[Any, float]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def install(self, engine: Engine) -> None:
        """Arm around every statement, commit and rollback of the engine's connections."""

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn: Connection, *_args: Any) -> None:
            self.arm(conn.connection.dbapi_connection)

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn: Connection, *_args: Any) -> None:
            self.disarm(conn.connection.dbapi_connection)

        # A commit or rollback stays armed until the connection goes back to the pool.
        for name in ("commit", "rollback"):
            event.listen(engine, name, _before)

        @event.listens_for(engine, "checkin")
        def _checked_in(dbapi_conn: Any, _record: Any) -> None:
            self.disarm(dbapi_conn)

    def arm(self, dbapi_conn: Any) -> None:
        """Start the clock of an operation on `dbapi_conn`."""
        if dbapi_conn is None:
            return
        with self._lock:
            self._armed[id(dbapi_conn)] = (dbapi_conn, time.monotonic() + self.timeout)
            if self._thread is None:
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="db-watchdog", daemon=True)
                self._thread.start()

    def disarm(self, dbapi_conn: Any) -> None:
        """Stop the clock of `dbapi_conn`: its operation ended."""
        with self._lock:
            self._armed.pop(id(dbapi_conn), None)

    def stop(self) -> None:
        """Stop the watchdog's thread (at dispose)."""
        self._stop.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(self.interval * 5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            now = time.monotonic()
            with self._lock:
                late = [conn for conn, deadline in self._armed.values() if deadline <= now]
                for conn in late:
                    self._armed.pop(id(conn), None)
            for conn in late:
                cut(conn, self.timeout)


def cut(dbapi_conn: Any, timeout: float) -> None:
    """Shut the connection's socket down: the blocked call fails at once, as on a reset."""
    try:
        fd = int(dbapi_conn.fileno())
        with socket.fromfd(fd, socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, AttributeError) as exc:  # already closed: nothing to cut
        log.debug("database link already closed: %s", exc)
        return
    log.warning("database did not answer within %.1fs: connection cut", timeout)


def _ping_after_idle(engine: Engine, watchdog: Watchdog) -> None:
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
        watchdog.arm(dbapi_conn)
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the pool discards it and checks out another (or connects)
            raise DisconnectionError(f"pooled connection is gone: {first_line(exc)}") from exc
        finally:
            watchdog.disarm(dbapi_conn)


def first_line(exc: BaseException | None) -> str:
    """Return the first line of an error's text (drivers add detail lines)."""
    text = str(exc or "unknown error").strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
        # Set before the first table exists (a new database): pruned pages can then be handed
        # back to the file system (tocsin.bridge.store.retention); on older files it is a no-op.
        cursor.execute("PRAGMA auto_vacuum=INCREMENTAL")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")
