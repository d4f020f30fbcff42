from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from tocsin.bridge import migrations
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata


def test_initial_migration_creates_exactly_the_schema(database_url: str) -> None:
    store = Store(database_url)
    migrations.upgrade(store)
    with store.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    store.dispose()
    assert diff == []


def test_upgrade_marks_the_database_current(database_url: str) -> None:
    store = Store(database_url)
    assert not migrations.is_current(store)
    migrations.upgrade(store)
    migrations.upgrade(store)
    assert migrations.is_current(store)
    store.dispose()
