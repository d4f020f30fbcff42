from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, select, text

from tocsin.bridge import migrations
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.store import fulltext
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import heartbeats, incidents, metadata, sla_clocks, timers
from tocsin.bridge.timers.rows import schedule


def test_initial_migration_creates_exactly_the_schema(database_url: str) -> None:
    store = Store(database_url)
    migrations.upgrade(store)
    # The full-text table (and FTS5's shadow tables) are created by store/fulltext.py.
    opts = {"include_name": lambda name, kind, parent: not fulltext.is_fts_object(name)}
    with store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
    store.dispose()
    assert diff == []


def test_upgrade_marks_the_database_current(database_url: str) -> None:
    store = Store(database_url)
    assert not migrations.is_current(store)
    migrations.upgrade(store)
    migrations.upgrade(store)
    assert migrations.is_current(store)
    store.dispose()


def test_stopped_by_is_filled_in_for_response_clocks_already_stopped(database_url: str) -> None:
    store = Store(database_url)
    migrations.upgrade(store, "0001")
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    who = {1: ("alice", None), 2: (None, "bob"), 3: (None, None)}  # acknowledged, resolved by
    with store.begin() as conn:
        for number, (acked, resolver) in who.items():
            conn.execute(
                insert(incidents).values(
                    id=number,
                    key=f"k{number}",
                    title="disk full",
                    priority="P1",
                    status="resolved",
                    source="alertmanager",
                    created_at=at,
                    updated_at=at,
                    acknowledged_at=at if acked else None,
                    acknowledged_by=acked,
                    resolved_at=at,
                    resolved_by=resolver,
                )
            )
            conn.execute(
                text(
                    "INSERT INTO sla_clocks (incident_id, clock, target_seconds, started_at, "
                    "stopped_at, breach_exempt) VALUES (:id, 'response', 900, :at, :at, false)"
                ),
                {"id": number, "at": at},
            )
    migrations.upgrade(store)
    with store.connect() as conn:
        found = dict(conn.execute(select(sla_clocks.c.incident_id, sla_clocks.c.stopped_by)).all())
    store.dispose()
    assert found == {1: "acknowledged", 2: "person_resolved", 3: "resolved"}


def test_heartbeat_deadlines_move_from_timers_onto_the_host_rows(database_url: str) -> None:
    seen = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    store = Store(database_url)
    migrations.upgrade(store, "0001")
    with store.begin() as conn:
        conn.execute(
            heartbeats.insert().values(
                host="db1", interval_seconds=30, labels={}, first_seen_at=seen, last_seen_at=seen
            )
        )
        schedule(conn, "heartbeat", seen + timedelta(seconds=90), now=seen, subject="db1")
    migrations.upgrade(store)
    with store.connect() as conn:
        deadline = conn.execute(select(heartbeats.c.deadline_at)).scalar_one()
        pending = conn.execute(
            select(timers.c.id).where(timers.c.fired_at.is_(None), ~timers.c.cancelled)
        ).all()
    store.dispose()
    assert as_utc(deadline) == seen + timedelta(seconds=90)
    assert pending == []
