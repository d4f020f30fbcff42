"""Keep the knowledge base's full-text index up to date from the queue the triggers fill.

Database triggers put a documented incident in kb_stale whenever its text or status changes
(store/fulltext.py). Each round takes the oldest queued incidents in small batches, writes their
terms (or drops them once no longer documented) and removes exactly the queue rows it read: a
change committed meanwhile leaves a row it did not read, so the next batch indexes it again. Searches also
read the queue, so a solution is found the moment it is saved, before its round indexes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from tocsin.bridge.kb.search import DOCUMENTED, index_terms
from tocsin.bridge.store import fulltext
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import incidents, kb_stale

log = logging.getLogger(__name__)
BATCH = 500  # queued incidents indexed per transaction: a few milliseconds of the write lock
ROUNDS = 200  # batches per round at most; the next round takes the rest
INDEX_ROUND_SECONDS = 2.0


def catch_up(conn: Connection, batch: int = BATCH) -> int:
    """Index the incidents of up to `batch` queue rows in this transaction; return the rows."""
    queued = conn.execute(
        select(kb_stale.c.seq, kb_stale.c.incident_id).order_by(kb_stale.c.seq).limit(batch)
    ).all()
    if not queued:
        return 0
    ids = sorted({int(r.incident_id) for r in queued})
    rows = {
        int(r.id): r
        for r in conn.execute(select(incidents).where(incidents.c.id.in_(ids), *DOCUMENTED))
    }
    fulltext.write(
        conn,
        [(i, index_terms(rows[i]) if i in rows else None) for i in ids],
    )
    conn.execute(delete(kb_stale).where(kb_stale.c.seq.in_([int(r.seq) for r in queued])))
    return len(queued)


class Indexer:
    """A periodic task: drain the queue in short transactions with a pause between them."""

    def __init__(
        self, store: Store, pause: float = 0.01, sleep: Callable[[float], Any] = time.sleep
    ) -> None:
        self.store = store
        self.pause = pause
        self.sleep = sleep

    def __call__(self, now: datetime) -> int:
        """Index what is queued (up to ROUNDS batches); return how many incidents."""
        with self.store.connect() as conn:
            # An idle bridge only reads: no write lock unless something is queued.
            if conn.execute(select(kb_stale.c.seq).limit(1)).first() is None:
                return 0
        total = 0
        for _ in range(ROUNDS):
            with self.store.begin() as conn:
                done = catch_up(conn)
            total += done
            if done < BATCH:
                break
            self.sleep(self.pause)  # writers waiting for the lock go in between
        if total:
            log.info("knowledge base: indexed %d incidents", total)
        return total
