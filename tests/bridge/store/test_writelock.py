"""SQLite writers in several processes queue on the writer lock file, not on SQLite's busy handler."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tocsin.bridge.errors import StoreUnavailable
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.writelock import WriterLock

WRITES = 60
FORK = multiprocessing.get_context("fork")


def _write_many(url: str, who: str, started: multiprocessing.synchronize.Event) -> None:
    store = Store(url, busy_timeout=10.0)
    started.wait(10)
    for n in range(WRITES):
        with store.begin() as conn:
            conn.execute(text("INSERT INTO hits (who, n) VALUES (:who, :n)"), {"who": who, "n": n})
    store.dispose()


def test_two_processes_writing_at_once_both_commit_every_write(sqlite_url: str) -> None:
    store = Store(sqlite_url)
    with store.begin() as conn:
        conn.execute(text("CREATE TABLE hits (who TEXT, n INTEGER)"))
    started = FORK.Event()
    writers = [FORK.Process(target=_write_many, args=(sqlite_url, who, started)) for who in "ab"]
    for writer in writers:
        writer.start()
    started.set()
    for writer in writers:
        writer.join(60)
    assert [writer.exitcode for writer in writers] == [0, 0]
    with store.connect() as conn:
        found = dict(conn.execute(text("SELECT who, count(*) FROM hits GROUP BY who")).all())
    store.dispose()
    assert found == {"a": WRITES, "b": WRITES}


def _hold(
    path: Path, held: multiprocessing.synchronize.Event, done: multiprocessing.synchronize.Event
) -> None:
    lock = WriterLock(path)
    assert lock.acquire(timeout=5)
    held.set()
    done.wait(10)
    lock.release()


def test_a_writer_lock_held_by_another_process_is_store_unavailable_in_time(
    sqlite_url: str,
) -> None:
    store = Store(sqlite_url, busy_timeout=0.3, retry_after=3)
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    held, done = FORK.Event(), FORK.Event()
    holder = FORK.Process(target=_hold, args=(path, held, done))
    holder.start()
    try:
        assert held.wait(10)
        began = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            with store.begin() as conn:
                conn.execute(text("SELECT 1"))
        waited = time.monotonic() - began
    finally:
        done.set()
        holder.join(10)
    assert caught.value.retry_after == 3 and 0.3 <= waited < 5
    with store.begin() as conn:  # free again once the other process let go
        assert conn.execute(text("SELECT 1")).scalar() == 1
    store.dispose()


def _try(
    lock: WriterLock,
    go: multiprocessing.synchronize.Event,
    refused: multiprocessing.synchronize.Event,
) -> None:
    go.wait(10)
    if not lock.acquire(timeout=0.2):
        refused.set()


def test_a_forked_child_does_not_share_its_parents_lock_file(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path / "t.db")
    assert lock.acquire(timeout=1)  # opens the lock file before the fork, as a migration would
    lock.release()
    go, refused = FORK.Event(), FORK.Event()
    child = FORK.Process(target=_try, args=(lock, go, refused))
    child.start()
    assert lock.acquire(timeout=1)
    go.set()
    child.join(10)
    lock.release()
    assert refused.is_set()


def test_nested_writes_in_one_thread_take_the_lock_once(tmp_path: Path) -> None:
    lock = WriterLock(tmp_path / "t.db")
    assert lock.acquire(timeout=1) and lock.acquire(timeout=1)
    lock.release()
    other = WriterLock(tmp_path / "t.db")  # another open file: as another process would be
    assert not other.acquire(timeout=0.05)
    lock.release()
    assert other.acquire(timeout=1)
    other.release()


def test_a_lock_file_that_cannot_be_opened_is_store_unavailable_and_holds_nothing(
    sqlite_url: str,
) -> None:
    store = Store(sqlite_url, retry_after=4)
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    with store.connect() as conn:
        conn.execute(text("SELECT 1"))  # the database file exists
    Path(f"{path}-writer").mkdir()  # not a file the lock can be taken on
    for _ in range(2):  # the second is refused the same way: the first left no lock held
        with pytest.raises(StoreUnavailable) as caught:
            with store.begin() as conn:
                conn.execute(text("SELECT 1"))
        assert caught.value.retry_after == 4 and "writer lock file" in caught.value.message
    store.dispose()


def test_the_lock_file_takes_the_databases_mode_and_owner(tmp_path: Path) -> None:
    database = tmp_path / "t.db"
    database.write_bytes(b"")
    database.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(database, 65534, 65534)  # as a bridge's own user would own it
    lock = WriterLock(database)
    assert lock.acquire(timeout=1)
    lock.release()
    made, made_by = (tmp_path / "t.db-writer").stat(), database.stat()
    assert made.st_mode & 0o777 == 0o640
    assert (made.st_uid, made.st_gid) == (made_by.st_uid, made_by.st_gid)
