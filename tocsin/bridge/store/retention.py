"""Prune rows that are only history: fired and cancelled timers, delivered notifications.

A heartbeat fleet or a busy week leaves millions of such rows; nothing reads them once they
are older than the retention (7 days by default). They go in small batches, each its own short
transaction with a pause after it, so intake waits at most one batch for SQLite's write lock.
Incidents, their events and alerts are kept. On SQLite a round that pruned anything then
checkpoints the WAL (so the file shrinks back) and returns free pages to the file system when
the database uses incremental auto-vacuum (new databases do).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Executable, Select, bindparam, delete, select, true

from tocsin.bridge.store.db import Store
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import outbox, timers

log = logging.getLogger(__name__)
DEFAULT_RETENTION = timedelta(days=7)
BATCH = 500  # rows a transaction deletes: a few milliseconds of SQLite's write lock
ROUNDS = 200  # batches a table loses per round at most; the next round takes the rest
VACUUM_PAGES = 2000  # free pages handed back to the file system per round


def _old_history(batch: int) -> dict[str, tuple[Select[Any], Executable]]:
    """Return, per kind of history, the query of a batch of old rows' ids and their delete.

    By index: fired timers by fired_at, cancelled ones by their due time (both on
    ix_timers_pending), delivered notifications by (status, next_attempt_at).
    """
    return {
        "timers_fired": (
            select(timers.c.id)
            .where(timers.c.fired_at.is_not(None), timers.c.fired_at < bindparam("cutoff"))
            .limit(batch),
            delete(timers).where(in_list(timers.c.id, "ids")),
        ),
        "timers_cancelled": (
            select(timers.c.id)
            .where(
                timers.c.fired_at.is_(None),
                timers.c.cancelled == true(),
                timers.c.due_at < bindparam("cutoff"),
            )
            .limit(batch),
            delete(timers).where(in_list(timers.c.id, "ids")),
        ),
        "outbox_delivered": (
            select(outbox.c.id)
            .where(
                outbox.c.status == "delivered",
                outbox.c.next_attempt_at < bindparam("cutoff"),
                outbox.c.delivered_at < bindparam("cutoff"),
            )
            .limit(batch),
            delete(outbox).where(in_list(outbox.c.id, "ids")),
        ),
    }


_OLD = _old_history(BATCH)


@dataclass
class Retention:
    """The pruning task (run by a Periodic worker): keep `keep` of history, drop the rest."""

    store: Store
    keep: timedelta = DEFAULT_RETENTION
    pause: float = 0.05
    sleep: Callable[[float], None] = time.sleep

    def __call__(self, now: datetime) -> int:
        """Prune history older than `keep` before `now`; return how many rows went."""
        cutoff = now - self.keep
        pruned = {name: self._prune(name, cutoff) for name in _OLD}
        total = sum(pruned.values())
        if total:
            log.info("retention: pruned %s", ", ".join(f"{n} {k}" for k, n in pruned.items()))
            if self.store.dialect == "sqlite":
                self._compact()
        return total

    def _prune(self, name: str, cutoff: datetime) -> int:
        query, statement = _OLD[name]
        total = 0
        for _ in range(ROUNDS):
            with self.store.begin() as conn:
                ids = [int(i) for i in conn.execute(query, {"cutoff": cutoff}).scalars()]
                if ids:
                    conn.execute(statement, {"ids": ids})
            total += len(ids)
            if len(ids) < BATCH:
                break
            self.sleep(self.pause)  # writers waiting for the lock go in between
        return total

    def _compact(self) -> None:
        """Hand free pages back (incremental auto-vacuum), then checkpoint and truncate the WAL."""
        with self.store.engine.connect() as conn:  # autocommit, outside any transaction
            raw = conn.connection.dbapi_connection
            assert raw is not None
            # executescript steps the vacuum to its end (execute frees a single page).
            raw.executescript(f"PRAGMA incremental_vacuum({VACUUM_PAGES});")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
