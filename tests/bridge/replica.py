"""A bridge replica reduced to its timer scheduler, for the multi-process exactly-once test.

Run as `python -m tests.bridge.replica DATABASE_URL NAME SECONDS`: fires `count` timers by
writing (timer_id, replica) to the `fires` table in the firing transaction.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, insert

from tocsin.bridge.store.db import Store
from tocsin.bridge.timers.rows import Timer
from tocsin.bridge.timers.scheduler import Scheduler

fires_metadata = MetaData()
fires = Table(
    "fires",
    fires_metadata,
    Column("timer_id", Integer, nullable=False),
    Column("replica", String(50), nullable=False),
)


def main(url: str, name: str, seconds: float) -> None:
    """Fire timers for `seconds`, then stop."""
    store = Store(url)

    def count(conn: Connection, timer: Timer, now: datetime) -> None:
        conn.execute(insert(fires).values(timer_id=timer.id, replica=name))
        time.sleep(0.001)  # some work, so that a kill lands mid-batch

    worker = Scheduler(
        store,
        {"count": count},
        name=name,
        batch=50,
        lease=timedelta(seconds=1),
        poll_interval=0.05,
    )
    worker.start()
    time.sleep(seconds)
    worker.stop()
    store.dispose()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
