"""The temporary table a report fills once and its queries then read, on the report's connection.

The window's incidents (with their group keys and times in epoch seconds) are copied once, not
selected from the incidents again by each of the report's dozen queries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Integer,
    MetaData,
    String,
    Table,
)

from tocsin.bridge.store.schema import UtcTime

WINDOW_TABLE = "report_window"
WORK_MEM = "64MB"  # PostgreSQL's memory per sort or hash while a report runs
Id = BigInteger().with_variant(Integer(), "sqlite")


def window_table() -> Table:
    """Return the description of the window's incidents' table."""
    return Table(
        WINDOW_TABLE,
        MetaData(),
        Column("id", Id, primary_key=True, autoincrement=False),
        Column("created_at", UtcTime),
        Column("priority", String),
        Column("team", String),
        Column("week", Integer),
        Column("c", Float),
        Column("a", Float),
        Column("r", Float),
        Column("acknowledged_by", String),
        Column("assignee", String),
        Column("major", Boolean),
        Column("satisfaction", Integer),
        Column("satisfaction_by", String),
        prefixes=["TEMPORARY"],
    )


@contextmanager
def temporary(conn: Connection, table: Table, fill: Callable[[], object]) -> Iterator[Table]:
    """Create a temporary table, fill it, yield it and drop it."""
    table.create(conn)
    try:
        fill()
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ANALYZE {table.name}")  # a new table has no statistics
            # The report groups and sorts a few hundred thousand rows: in memory, not on disk.
            conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
        yield table
    except Exception:
        # PostgreSQL's failed transaction drops the table as it rolls back; SQLite keeps it.
        if conn.dialect.name == "sqlite":
            table.drop(conn)
        raise
    table.drop(conn)
