"""The knowledge base: similar past incidents and word search, in English and Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, insert

from tocsin.bridge.errors import NotFound
from tocsin.bridge.kb import search as kb
from tocsin.bridge.kb.search import (
    Entry,
    incident_query,
    rank_similar,
    rank_text,
    same_alert,
    search,
    similar,
    tokens,
)
from tocsin.bridge.store.schema import incidents, metadata

T0 = datetime(2026, 3, 2, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Disk /var is FULL on db-1", ["disk", "var", "full", "db"]),
        ("disks filling", ["disk", "filling"]),
        ("数据库连接超时", ["数据", "据库", "库连", "连接", "接超", "超时"]),
        ("MySQL 主从延迟", ["mysql", "主从", "从延", "延迟"]),
        ("慢，卡", ["慢", "卡"]),
    ],
)
def test_tokens_are_english_words_and_cjk_bigrams(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


def entry(
    id: int, text: str, alertname: str | None = None, service: str | None = None, **labels: str
) -> Entry:
    if alertname:
        labels["alertname"] = alertname
    return Entry(id, text, "P2", service, "resolved", labels, text, None, f"fix {id}", T0)


def test_same_alert_and_service_rank_first_even_with_other_words() -> None:
    target = entry(1, "disk full on web-3", "HostDiskFull", "web", instance="web-3")
    candidates = [
        entry(2, "disk full on web-3 again", "HostDiskFull", "api", instance="web-3"),
        entry(3, "log rotation stopped", "HostDiskFull", "web", instance="web-1"),
    ]
    assert [m.entry.id for m in rank_similar(target, candidates)] == [3, 2]
    assert [m.same_alert for m in rank_similar(target, candidates)] == [True, False]


def test_label_overlap_and_text_order_the_rest() -> None:
    target = entry(1, "memory pressure", "HostMemory", None, instance="a", env="prod", team="x")
    candidates = [
        entry(2, "unrelated words", "Other", None, instance="b", env="prod"),
        entry(3, "unrelated words", "Other", None, instance="a", env="prod", team="x"),
        entry(4, "nothing in common", "Else", None, instance="z"),
    ]
    assert [m.entry.id for m in rank_similar(target, candidates)] == [3, 2]


def test_the_incident_itself_is_never_similar_to_itself() -> None:
    target = entry(1, "disk full", "HostDiskFull", "web")
    assert rank_similar(target, [target]) == []


CORPUS = [
    entry(1, "Disk full on /var: old logs not rotated"),
    entry(2, "数据库连接超时，连接池耗尽，重启应用后恢复"),
    entry(3, "Certificate expired on the load balancer"),
    entry(4, "磁盘空间不足，清理日志"),
]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("disk full", 1),
        ("expired certificate", 3),
        ("数据库超时", 2),
        ("磁盘满了", 4),
        ("连接池", 2),
    ],
)
def test_word_search_finds_the_matching_solution(query: str, first: int) -> None:
    assert rank_text(query, CORPUS)[0].entry.id == first


def test_word_search_returns_nothing_for_unrelated_words() -> None:
    assert rank_text("kubernetes pod eviction", CORPUS) == []


def row(id: int, title: str, status: str = "resolved", **extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": id,
        "key": f"k{id}",
        "title": title,
        "priority": "P2",
        "status": status,
        "source": "alert",
        "created_at": T0,
        "updated_at": T0,
        "resolved_at": T0 if status != "triggered" else None,
        "labels": {"alertname": "HostDiskFull", "instance": "web-1"},
        "root_cause": None,
        "solution": None,
    }
    return values | extra


@pytest.fixture
def conn(database_url: str) -> Iterator[Connection]:
    engine = create_engine(database_url)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(incidents),
            [
                row(1, "disk full on web-1", "triggered"),
                row(
                    2, "disk full on web-1", solution="deleted old logs", root_cause="logrotate off"
                ),
                row(
                    3, "disk full on web-1", "closed"
                ),  # resolved without a solution: not knowledge
                row(4, "磁盘已满", "closed", solution="清理日志", labels={"alertname": "X"}),
            ],
        )
        yield connection
    engine.dispose()


def test_similar_lists_documented_past_incidents_with_solutions(conn: Connection) -> None:
    matches = similar(conn, 1)
    assert [(m.entry.id, m.entry.solution, m.same_alert) for m in matches] == [
        (2, "deleted old logs", True)
    ]


def test_search_reads_chinese_from_the_database(conn: Connection) -> None:
    assert [m.entry.solution for m in search(conn, "磁盘")] == ["清理日志"]


def test_similar_to_an_unknown_incident_is_not_found(conn: Connection) -> None:
    with pytest.raises(NotFound):
        similar(conn, 99)


def test_same_alert_lists_only_documented_incidents_of_the_alert_and_service(
    conn: Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = {"solution": "deleted old logs"}
    conn.execute(
        insert(incidents),
        [
            row(5, "disk full on web-1", **fixed, service="shop"),  # another service
            row(6, "disk full on web-1", **fixed, service=None, labels={"alertname": "Other"}),
            row(7, "disk full again", **fixed, service=None, resolved_at=T0.replace(hour=11)),
            row(8, "disk full on web-1", "triggered", service="shop"),  # new, on service shop
        ],
    )
    assert [m.entry.id for m in same_alert(conn, incident_query(conn, 1))] == [2, 7]
    assert [m.entry.id for m in same_alert(conn, incident_query(conn, 8))] == [5]
    monkeypatch.setattr(kb, "SAME_ALERT_SCAN", 1)  # only the newest is scanned
    assert [m.entry.id for m in same_alert(conn, incident_query(conn, 1))] == [7]
