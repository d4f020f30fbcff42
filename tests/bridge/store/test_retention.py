"""Retention prunes old fired and cancelled timers and delivered notifications, nothing else."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, update

from tests.bridge.helpers import T0, make_runtime
from tocsin.bridge.notify.queue import enqueue_many, outbox_row
from tocsin.bridge.store import retention
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.retention import Retention
from tocsin.bridge.store.schema import outbox, timers
from tocsin.bridge.timers.rows import schedule

NOW = T0
OLD = NOW - timedelta(days=8)
RECENT = NOW - timedelta(days=1)


def _timer(conn: Connection, name: str, due: timedelta, **state: object) -> None:
    timer_id = schedule(conn, "note", NOW - due, now=NOW - due, subject=name)
    if state:
        conn.execute(update(timers).where(timers.c.id == timer_id).values(**state))


def _outbox(conn: Connection, name: str, status: str, at: object) -> None:
    enqueue_many(conn, [outbox_row(key=name, channel="c", payload={}, now=at)])  # type: ignore[arg-type]
    delivered = at if status == "delivered" else None
    conn.execute(
        update(outbox)
        .where(outbox.c.idempotency_key == name)
        .values(status=status, delivered_at=delivered)
    )


def _left(store: Store) -> tuple[list[str], list[str]]:
    with store.connect() as conn:
        subjects = sorted(conn.execute(select(timers.c.subject)).scalars())
        keys = sorted(conn.execute(select(outbox.c.idempotency_key)).scalars())
    return subjects, keys


def test_old_history_goes_and_everything_else_stays(database_url: str) -> None:
    runtime = make_runtime(database_url)
    store = runtime.store
    with store.begin() as conn:
        _timer(conn, "fired-old", timedelta(days=9), fired_at=OLD)
        _timer(conn, "fired-recent", timedelta(days=2), fired_at=RECENT)
        _timer(conn, "cancelled-old", timedelta(days=8), cancelled=True)
        _timer(conn, "cancelled-recent", timedelta(days=1), cancelled=True)
        _timer(conn, "pending-overdue", timedelta(days=8))
        _outbox(conn, "delivered-old", "delivered", OLD)
        _outbox(conn, "delivered-recent", "delivered", RECENT)
        _outbox(conn, "dead-old", "dead", OLD)
        _outbox(conn, "pending-old", "pending", OLD)
    assert Retention(store, timedelta(days=7))(NOW) == 3
    assert _left(store) == (
        ["cancelled-recent", "fired-recent", "pending-overdue"],
        ["dead-old", "delivered-recent", "pending-old"],
    )
    store.dispose()


def test_pruning_goes_in_small_batches_with_pauses_between(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 10)
    monkeypatch.setattr(retention, "_OLD", retention._old_history(10))
    runtime = make_runtime(sqlite_url)
    with runtime.store.begin() as conn:
        for n in range(35):
            _timer(conn, f"t{n}", timedelta(days=9), fired_at=OLD)
    pauses: list[float] = []
    pruned = Retention(runtime.store, timedelta(days=7), sleep=pauses.append)(NOW)
    assert pruned == 35 and len(pauses) == 3
    assert _left(runtime.store) == ([], [])
    runtime.store.dispose()


def test_sqlite_files_shrink_back_after_pruning(tmp_path: Path) -> None:
    path = tmp_path / "tocsin.db"
    runtime = make_runtime(f"sqlite:///{path}")
    with runtime.store.begin() as conn:
        for n in range(3000):
            _timer(conn, f"t{n}-" + "x" * 200, timedelta(days=9), fired_at=OLD)
    wal = Path(f"{path}-wal")
    before = path.stat().st_size + wal.stat().st_size
    Retention(runtime.store, timedelta(days=7), sleep=lambda _: None)(NOW)
    with runtime.store.connect() as conn:
        free = conn.exec_driver_sql("PRAGMA freelist_count").scalar()
    assert wal.stat().st_size == 0
    assert free == 0
    assert path.stat().st_size < before / 2
    runtime.store.dispose()
