from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, insert, select

from tocsin.bridge import migrations
from tocsin.bridge.notify.queue import outbox_row
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.store import bulk as bulk_module
from tocsin.bridge.store.bulk import insert_rows
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import incidents, outbox, timers

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _incident(n: int) -> dict[str, object]:
    return {
        "key": f"k{n}",
        "open_key": f"k{n}",
        "title": f"<b>disk</b> full on 主机-{n}",
        "priority": "P2",
        "status": "triggered",
        "source": "alert",
        "labels": {
            "alertname": "Disk",
            "instance": f"h{n}",
            "quote": 'it\'s "x" \\ {}',
            "nested": "[1, {}]",
        },
        "annotations": {},
        "host": None if n % 2 else f"h{n}",
        "created_at": NOW,
        # Naive times are taken as UTC, as the rest of the bridge takes them.
        "updated_at": (NOW + timedelta(seconds=n)).replace(tzinfo=None if n % 2 else UTC),
    }


def _store(database_url: str) -> Store:
    store = Store(database_url)
    migrations.upgrade(store)
    return store


def test_rows_go_in_with_their_values_defaults_and_returned_columns(database_url: str) -> None:
    store = _store(database_url)
    rows = [_incident(n) for n in range(5)]
    with store.begin() as conn:
        returned = insert_rows(conn, incidents, rows, returning=("id", "open_key"))
    with store.connect() as conn:
        stored = {row.open_key: row for row in conn.execute(select(incidents))}
    assert {row.open_key: row.id for row in returned} == {k: r.id for k, r in stored.items()}
    for n, row in enumerate(rows):
        got = stored[f"k{n}"]
        assert (got.title, got.labels, got.host) == (row["title"], row["labels"], row["host"])
        assert as_utc(got.updated_at) == NOW + timedelta(seconds=n)
        # Columns the rows leave out take their defaults.
        assert (got.paused, got.escalation_level, got.summary) == (False, 0, "")
    store.dispose()


def test_many_rows_are_one_statement(database_url: str) -> None:
    store = _store(database_url)
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    rows = [
        {"kind": "escalation", "due_at": NOW, "created_at": NOW, "payload": {"step": n}}
        for n in range(200)
    ]
    with store.begin() as conn:
        assert insert_rows(conn, timers, rows) == []
        inserts = [s for s in statements if s.startswith("INSERT")]
        payloads = conn.execute(select(timers.c.payload)).scalars().all()
    assert len(inserts) == 1
    assert sorted(p["step"] for p in payloads) == list(range(200))
    store.dispose()


def test_no_rows_is_no_statement(database_url: str) -> None:
    store = _store(database_url)
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with store.begin() as conn:
        assert insert_rows(conn, timers, [], returning=("id",)) == []
    assert not [s for s in statements if s.startswith("INSERT")]
    store.dispose()


def test_sqlite_rows_are_stored_as_sqlalchemy_stores_them(sqlite_url: str) -> None:
    store = _store(sqlite_url)
    row = _incident(1)  # a naive time, a None, JSON; defaults for booleans and numbers
    with store.begin() as conn:
        insert_rows(conn, incidents, [row])
        conn.execute(insert(incidents), {**row, "key": "k1b", "open_key": "k1b"})
        raw = conn.exec_driver_sql("SELECT * FROM incidents ORDER BY id").all()
    # Every column but the id and the keys, as the file holds it.
    assert raw[0][3:] == raw[1][3:]
    store.dispose()


def test_sqlite_returning_spans_statements_when_rows_exceed_the_variable_limit(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _store(sqlite_url)
    monkeypatch.setattr(bulk_module, "_SQLITE_VARIABLES", 100)  # about 2 incident rows each
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with store.begin() as conn:
        returned = insert_rows(conn, incidents, [_incident(n) for n in range(7)], ("id", "key"))
        stored = {row.key: row.id for row in conn.execute(select(incidents))}
    assert {row.key: row.id for row in returned} == stored
    assert len(stored) == 7
    assert len([s for s in statements if s.startswith("INSERT")]) > 1
    store.dispose()


def test_rows_whose_unique_key_is_there_already_are_skipped(database_url: str) -> None:
    store = _store(database_url)

    def row(key: str, text: str) -> dict[str, object]:
        return outbox_row(key=key, channel="hook", payload={"text": text}, now=NOW)

    with store.begin() as conn:
        insert_rows(conn, outbox, [row("a", "first")], skip_existing="idempotency_key")
        insert_rows(
            conn,
            outbox,
            [row("a", "again"), row("b", "one"), row("b", "twice in a batch")],
            skip_existing="idempotency_key",
        )
    with store.connect() as conn:
        found = conn.execute(
            select(outbox.c.idempotency_key, outbox.c.payload).order_by(outbox.c.id)
        ).all()
    store.dispose()
    assert [(key, payload["text"]) for key, payload in found] == [("a", "first"), ("b", "one")]
