"""The knowledge base's full-text index: fed by triggers, drained in batches, Chinese included."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, func, insert, select, update

from tocsin.bridge import migrations
from tocsin.bridge.kb import search as kb
from tocsin.bridge.kb.index import Indexer, catch_up
from tocsin.bridge.store import fulltext
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import incidents, kb_stale, metadata

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)
DOCUMENTED = [
    (1, "Disk full on /var", "old logs were not rotated", "enabled logrotate"),
    (2, "数据库连接超时", "连接池耗尽", "重启应用后恢复"),
    (3, "Certificate expired on the load balancer", None, "renewed the certificate"),
    (4, "磁盘空间不足", None, "清理日志"),
]


def row(id: int, title: str, cause: str | None, fix: str | None, **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": id,
        "key": f"k{id}",
        "title": title,
        "priority": "P2",
        "status": "resolved",
        "source": "alert",
        "created_at": T0,
        "updated_at": T0,
        "resolved_at": T0 + timedelta(minutes=id),
        "labels": {},
        "root_cause": cause,
        "solution": fix,
    }
    return values | extra


@pytest.fixture
def conn(database_url: str) -> Iterator[Connection]:
    engine = create_engine(database_url)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(incidents), [row(*r) for r in DOCUMENTED])
        yield connection
    engine.dispose()


def queued(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(kb_stale)).scalar_one())


def test_saving_a_solution_queues_the_incident_and_a_round_indexes_it(conn: Connection) -> None:
    assert queued(conn) == 4
    assert catch_up(conn) == 4
    assert queued(conn) == 0
    assert fulltext.matching(conn, kb.tokens("disk full"), True, 10) == [1]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("超时", [2]),  # two characters: one term, found inside 连接超时
        ("磁盘", [4]),
        ("数据库超时", [2]),
        ("certificate expired", [3]),
        ("logs", [1]),
    ],
)
def test_the_index_finds_english_and_chinese_words(
    conn: Connection, query: str, found: list[int]
) -> None:
    catch_up(conn)
    assert [m.entry.id for m in kb.search(conn, query)] == found


def test_every_word_or_any_word(conn: Connection) -> None:
    catch_up(conn)
    terms = kb.tokens("disk certificate")
    assert fulltext.matching(conn, terms, True, 10) == []
    assert fulltext.matching(conn, terms, False, 10) == [3, 1]


def test_the_newest_matches_come_first_behind_newer_rows_without_the_word(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL checks the newest RECENT rows first, then asks the GIN index for older ones.
    monkeypatch.setattr(fulltext, "RECENT", 3)
    more = [row(n, f"quota note {n}", "quota", None) for n in range(5, 12)]
    conn.execute(insert(incidents), more)
    catch_up(conn)
    assert fulltext.matching(conn, ["quota"], True, 4) == [11, 10, 9, 8]
    assert fulltext.matching(conn, ["disk", "certificate"], False, 10) == [3, 1]
    assert fulltext.matching(conn, ["quota", "disk"], False, 10) == [11, 10, 9, 8, 7, 6, 5, 1]


def test_a_new_solution_replaces_the_old_terms_and_a_reopened_incident_leaves(
    conn: Connection,
) -> None:
    catch_up(conn)
    conn.execute(update(incidents).where(incidents.c.id == 1).values(solution="moved to zstd"))
    conn.execute(update(incidents).where(incidents.c.id == 3).values(status="triggered"))
    conn.execute(update(incidents).where(incidents.c.id == 4).values(updated_at=T0))  # no text
    assert queued(conn) == 2
    catch_up(conn)
    assert fulltext.matching(conn, ["zstd"], True, 10) == [1]
    assert fulltext.matching(conn, ["logrotate"], True, 10) == []
    assert fulltext.matching(conn, ["certificate"], True, 10) == []


def test_a_search_finds_a_solution_before_the_index_takes_it_in(conn: Connection) -> None:
    assert queued(conn) == 4  # nothing indexed yet
    assert [m.entry.id for m in kb.search(conn, "清理日志")] == [4]


def test_the_queue_drains_in_batches(conn: Connection) -> None:
    assert catch_up(conn, batch=3) == 3
    assert queued(conn) == 1
    assert catch_up(conn, batch=3) == 1


def test_an_older_incident_with_every_word_is_found_behind_newer_partial_matches(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    later = [row(10 + n, f"disk latency {n}", None, "faster disks") for n in range(5)]
    conn.execute(insert(incidents), later)
    catch_up(conn)
    monkeypatch.setattr(kb, "CANDIDATES", 2)
    assert 1 in [m.entry.id for m in kb.search(conn, "disk full rotated")]


def test_the_upgrade_queues_the_documented_history(database_url: str) -> None:
    store = Store(database_url)
    migrations.upgrade(store, "0008")
    with store.begin() as conn:
        conn.execute(
            insert(incidents),
            [row(*DOCUMENTED[1]), row(9, "open", None, None, status="triggered")],
        )
    migrations.upgrade(store)
    with store.connect() as conn:
        assert queued(conn) == 1
    assert Indexer(store)(T0) == 1
    with store.connect() as conn:
        assert queued(conn) == 0
        assert fulltext.matching(conn, kb.tokens("超时"), True, 10) == [2]
    store.dispose()


def test_the_index_finds_an_alerts_documented_incidents_by_its_name(conn: Connection) -> None:
    conn.execute(
        insert(incidents),
        [
            row(20, "too hot", None, "fan replaced", labels={"alertname": "HostTemp"}),
            row(21, "too hot", None, "fan replaced", labels={"alertname": "HostTemp"}),
            row(22, "too hot", None, "fan replaced", labels={"alertname": "Other"}),
        ],
    )
    catch_up(conn)
    assert fulltext.matching(conn, [kb.alert_term("HostTemp")], True, 10) == [21, 20]
    target = kb.Entry(99, "too hot", "P2", None, "triggered", {"alertname": "HostTemp"}, "too hot")
    assert [m.entry.id for m in kb.same_alert(conn, target)] == [21, 20]


def test_creating_the_schema_again_keeps_one_working_index(database_url: str) -> None:
    engine = create_engine(database_url)
    metadata.create_all(engine)
    metadata.create_all(engine)  # a second runtime on the same database does this again
    with engine.begin() as connection:
        connection.execute(insert(incidents), [row(*DOCUMENTED[0])])
        assert queued(connection) == 1  # one trigger fired, not two
        assert catch_up(connection) == 1
        assert fulltext.matching(connection, kb.tokens("logrotate"), True, 10) == [1]
    engine.dispose()
