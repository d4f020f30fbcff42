"""What the database holds: rows and bytes per table (indexes included), and the files' sizes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, func, select, text

from tocsin.bridge.platform.config import sqlite_path
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import metadata


@dataclass(frozen=True)
class TableStats:
    """One table: its rows and the bytes it and its indexes take."""

    name: str
    rows: int
    size_bytes: int


@dataclass(frozen=True)
class DatabaseStats:
    """Every table of the schema, and the database's own figures (files, free pages)."""

    tables: list[TableStats]
    notes: list[tuple[str, str]]

    @property
    def size_bytes(self) -> int:
        """Return the bytes of every table and index."""
        return sum(table.size_bytes for table in self.tables)


def database_stats(store: Store) -> DatabaseStats:
    """Count rows and measure every table of the schema, on SQLite or PostgreSQL."""
    with store.connect() as conn:
        sizes = _sqlite_sizes(conn) if store.dialect == "sqlite" else _postgresql_sizes(conn)
        tables = [
            TableStats(
                table.name,
                int(conn.execute(select(func.count()).select_from(table)).scalar_one()),
                sizes.get(table.name, 0),
            )
            for table in metadata.sorted_tables
        ]
        notes = _sqlite_notes(conn, sqlite_path(store.url)) if store.dialect == "sqlite" else []
    return DatabaseStats(sorted(tables, key=lambda t: -t.size_bytes), notes)


def _sqlite_sizes(conn: Connection) -> dict[str, int]:
    # dbstat gives each table's and index's pages; sqlite_master says which table an index is on.
    rows = conn.execute(
        text(
            "SELECT m.tbl_name, SUM(s.pgsize) FROM dbstat AS s "
            "JOIN sqlite_master AS m ON m.name = s.name GROUP BY m.tbl_name"
        )
    )
    return {str(name): int(size or 0) for name, size in rows}


def _postgresql_sizes(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class AS c "
            "JOIN pg_namespace AS n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
        )
    )
    return {str(name): int(size or 0) for name, size in rows}


def _sqlite_notes(conn: Connection, path: Path | None) -> list[tuple[str, str]]:
    pragma = {
        name: int(conn.exec_driver_sql(f"PRAGMA {name}").scalar() or 0)
        for name in ("page_size", "page_count", "freelist_count", "auto_vacuum")
    }
    notes = [
        ("free pages", f"{pragma['freelist_count']} of {pragma['page_count']}"),
        (
            "auto_vacuum",
            "incremental" if pragma["auto_vacuum"] == 2 else "off (VACUUM once to enable)",
        ),
    ]
    if path is not None:
        for suffix in ("", "-wal"):
            file = Path(f"{path}{suffix}")
            size = file.stat().st_size if file.exists() else 0
            notes.append((f"file {file.name}", human_bytes(size)))
    return notes


def human_bytes(size: int) -> str:
    """Return a size for people: 512 B, 1.5 KiB, 3.2 MiB, 1.1 GiB."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
