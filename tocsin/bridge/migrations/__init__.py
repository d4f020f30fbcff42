"""Alembic migrations, run from code: `upgrade(store)`, `current(conn)`, `head()`; no alembic.ini.

Owns the schema's history (versions/). May import store and platform.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from tocsin.bridge.store.db import Store

HERE = Path(__file__).resolve().parent


def alembic_config() -> Config:
    """Build the Alembic config in memory, pointing at this package's scripts."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    return config


def head() -> str:
    """Return the newest revision the code knows."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert revision is not None
    return revision


def current(conn: Connection) -> str | None:
    """Return the revision the database is at, or None when it was never migrated."""
    return MigrationContext.configure(conn).get_current_revision()


def is_current(store: Store) -> bool:
    """Return whether the database schema is at the code's head revision."""
    with store.connect() as conn:
        return current(conn) == head()


def upgrade(store: Store, revision: str = "head") -> None:
    """Apply every pending migration in one transaction."""
    config = alembic_config()
    with store.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
