"""A year of incident history, generated and bulk-loaded for the history benchmark.

Each incident has the rows the bridge would have left: the incident (a fifth documented with a
root cause and solution in English and Chinese), its timeline (triggered, acknowledged,
resolved, some escalations and pauses) and its response and resolution clocks. The newest
OPEN incidents are still open, for the board. SQLite loads through executemany, PostgreSQL
through COPY; both keep the bridge's indexes and triggers (the knowledge base's queue fills).
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import make_url

CHUNK = 20_000  # incidents generated and loaded per transaction
OPEN = 2_000  # newest incidents still open: a flood the board must page through
DAYS = 365
PRIORITIES = (("P1", 900, 7200), ("P2", 1800, 86400), ("P3", 28800, 172800))
TEAMS = ("ops", "db", "web", "payments", "network", "storage", "helpdesk", "数据组")
ALERTS = [f"Alert{n:02d}" for n in range(40)] + ["HostDiskFull", "PostgresDown", "CertExpiry"]
WORDS = [f"w{n:04d}" for n in range(3000)] + [
    "disk", "full", "memory", "leak", "certificate", "expired", "replica", "lag", "timeout",
    "connection", "pool", "exhausted", "rotate", "logs", "kernel", "upgrade", "rollback",
]  # fmt: skip
CHINESE = [
    "数据库", "连接超时", "磁盘空间不足", "内存泄漏", "证书过期", "主从延迟", "清理日志",
    "重启应用", "网络抖动", "负载过高", "配置错误", "回滚版本", "扩容", "限流", "缓存失效",
]  # fmt: skip
INCIDENT_COLUMNS = (
    "id", "key", "title", "summary", "description", "priority", "status", "paused",
    "paused_seconds", "source", "service", "host", "team", "escalation_level", "major",
    "auto_resolve", "labels", "annotations", "created_at", "updated_at", "acknowledged_at",
    "acknowledged_by", "resolved_at", "root_cause", "solution", "closed_at", "satisfaction",
)  # fmt: skip
EVENT_COLUMNS = ("incident_id", "kind", "actor", "occurred_at", "data")
CLOCK_COLUMNS = (
    "incident_id", "clock", "target_seconds", "started_at", "due_at", "stopped_at",
    "stopped_by", "breached_at", "breach_exempt",
)  # fmt: skip


@dataclass
class Chunk:
    """The rows of a run of incidents, ready to load."""

    incidents: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[tuple[Any, ...]] = field(default_factory=list)
    clocks: list[tuple[Any, ...]] = field(default_factory=list)


def _text(rng: random.Random) -> str:
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
    return f"{words}，{rng.choice(CHINESE)}{rng.choice(CHINESE)}"


def chunks(total: int, end: datetime, seed: int = 22) -> Iterator[Chunk]:
    """Yield the history of `total` incidents opened over the DAYS before `end`, oldest first."""
    rng = random.Random(seed)
    step = timedelta(days=DAYS) / total
    start = end - timedelta(days=DAYS)
    chunk = Chunk()
    for number in range(1, total + 1):
        created = start + step * number
        _incident(rng, number, created, number > total - OPEN, chunk)
        if len(chunk.incidents) >= CHUNK:
            yield chunk
            chunk = Chunk()
    if chunk.incidents:
        yield chunk


def _incident(rng: random.Random, number: int, created: datetime, open_: bool, into: Chunk) -> None:
    priority, response, resolution = rng.choices(PRIORITIES, (1, 3, 6))[0]
    host = f"web-{number % 700}"
    alert = rng.choice(ALERTS)
    acked = created + timedelta(seconds=rng.uniform(30, 3600)) if rng.random() < 0.95 else None
    resolved = None if open_ else (acked or created) + timedelta(seconds=rng.uniform(600, 86400))
    documented = resolved is not None and rng.random() < 0.2
    status = (
        ("acknowledged" if acked else "triggered")
        if open_
        else ("closed" if rng.random() < 0.2 else "resolved")
    )
    into.incidents.append(
        (
            number, f"k{number}", f"{alert} on {host}", "", _text(rng) if documented else "",
            priority, status, False, 0.0, "alert", rng.choice(("shop", "api", "billing")), host,
            rng.choice(TEAMS), 0, False, True,
            json.dumps({"alertname": alert, "instance": host}), "{}", created,
            resolved or acked or created, acked, "alice" if acked else None, resolved,
            _text(rng) if documented else None, _text(rng) if documented else None,
            resolved if status == "closed" else None,
            rng.randint(1, 5) if status == "closed" else None,
        )
    )  # fmt: skip
    moments = [("incident.triggered", created, {})]
    if acked:
        moments.append(("incident.acknowledged", acked, {}))
    if rng.random() < 0.1:
        moments.append(("incident.escalated", created + timedelta(minutes=15), {"level": 1}))
    if rng.random() < 0.05:
        moments.append(("incident.paused", created + timedelta(minutes=20), {}))
        moments.append(("incident.resumed", created + timedelta(minutes=50), {}))
    if resolved:
        moments.append(("incident.resolved", resolved, {}))
    into.events.extend((number, kind, None, at, json.dumps(data)) for kind, at, data in moments)
    for clock, target, stop, by in (
        ("response", response, acked, "acknowledged"),
        ("resolution", resolution, resolved, None),
    ):
        due = created + timedelta(seconds=target)
        late = stop is not None and stop > due
        into.clocks.append(
            (number, clock, float(target), created, due, stop, by if stop else None,
             due if late else None, False)
        )  # fmt: skip


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def load(url: str, total: int, end: datetime) -> None:
    """Bulk-load the history into a migrated, empty database."""
    if url.startswith("sqlite"):
        _load_sqlite(str(make_url(url).database), total, end)
    else:
        _load_postgresql(url, total, end)


def _insert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def _load_sqlite(path: str, total: int, end: datetime) -> None:
    conn = sqlite3.connect(path)
    # A seed, not a measurement: a cache that holds the indexes and no fsync per chunk keep
    # 1,000,000 incidents from re-reading index pages from disk at every insert.
    conn.execute("PRAGMA cache_size = -2000000")
    conn.execute("PRAGMA synchronous = OFF")
    try:
        for chunk in chunks(total, end):
            with conn:
                for table, columns, rows in (
                    ("incidents", INCIDENT_COLUMNS, chunk.incidents),
                    ("events", EVENT_COLUMNS, chunk.events),
                    ("sla_clocks", CLOCK_COLUMNS, chunk.clocks),
                ):
                    conn.executemany(
                        _insert(table, columns),
                        ([_sqlite_value(v) for v in row] for row in rows),
                    )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _load_postgresql(url: str, total: int, end: datetime) -> None:
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as conn:
        for chunk in chunks(total, end):
            with conn.transaction(), conn.cursor() as cursor:
                for table, columns, rows in (
                    ("incidents", INCIDENT_COLUMNS, chunk.incidents),
                    ("events", EVENT_COLUMNS, chunk.events),
                    ("sla_clocks", CLOCK_COLUMNS, chunk.clocks),
                ):
                    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                        for row in rows:
                            copy.write_row(row)
        # Explicit ids leave the sequence behind; the bridge's next incident takes the next id.
        conn.execute(
            "SELECT setval(pg_get_serial_sequence('incidents', 'id'), max(id)) FROM incidents"
        )
        conn.execute("ANALYZE")
        conn.commit()
