"""Insert many rows in one statement whose text does not grow with the batch.

On PostgreSQL the rows travel as one JSON document, expanded by the server:
`INSERT … SELECT … FROM json_populate_recordset(NULL::table, :rows)`. A multi-row VALUES
statement (what executemany with RETURNING becomes) is a new SQL text for every batch size, so
psycopg parses it anew (5 ms for 100 incident rows) and the server plans it anew; one array per
column is a short text, but psycopg quotes every element of a text array in Python. The JSON
form is one short text that both prepare once, encoded by orjson (0.7 us a new incident's row,
where the json module took 5). Measured on 100 incident rows, CPU a row: 0.14 ms as VALUES,
0.065 ms as arrays, 0.02 ms as JSON.

On SQLite the rows go through the driver's executemany (or, when columns are to be returned,
one multi-row VALUES … RETURNING) with values converted by the columns' own bind processors,
each distinct time once. SQLAlchemy's own executemany builds and processes a parameter dict
per row: on a batch of new incidents that was a third of the bridge's CPU.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    ColumnDefault,
    Connection,
    DateTime,
    Dialect,
    Insert,
    Row,
    Table,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from tocsin.bridge.platform.clock import as_utc


def insert_rows(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: Sequence[str] = (),
    skip_existing: str | None = None,
) -> list[Row[Any]]:
    """Insert rows that all set the same columns; return their `returning` columns.

    With `skip_existing` (a unique column) a row whose value is already there is left out,
    as ON CONFLICT DO NOTHING does. The returned rows come in no promised order: callers match
    them by a column they set (an incident's open key, an alert's fingerprint).
    """
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        statement = _recordset_insert(table, tuple(rows[0]), tuple(returning), skip_existing)
        document = orjson.dumps(rows, option=_DOCUMENT).decode()
        result = conn.execute(statement, {"rows": document})
    else:
        return _sqlite_insert(conn, table, rows, tuple(returning), skip_existing)
    return list(result) if returning else []


def _sqlite_insert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    returning: tuple[str, ...],
    skip_existing: str | None,
) -> list[Row[Any]]:
    plan = _sqlite_plan(table, tuple(rows[0]), conn.dialect)
    values = plan.values(rows)
    if not returning:
        skip = f" ON CONFLICT ({skip_existing}) DO NOTHING" if skip_existing else ""
        conn.exec_driver_sql(plan.insert + skip, values)
        return []
    if skip_existing:
        raise ValueError("insert_rows: skip_existing with returning is not supported on SQLite")
    per_statement = max(1, _SQLITE_VARIABLES // len(plan.names))
    found: list[Row[Any]] = []
    for start in range(0, len(values), per_statement):
        chunk = values[start : start + per_statement]
        text = plan.returning(len(chunk), returning)
        found.extend(conn.exec_driver_sql(text, tuple(chain.from_iterable(chunk))).all())
    return found


# The rows as one JSON document: times as RFC 3339 (naive ones taken as UTC), integer keys as
# text, as the stdlib's encoder wrote them.
_DOCUMENT = orjson.OPT_NAIVE_UTC | orjson.OPT_NON_STR_KEYS

# Bound parameters a statement may carry: 32,766 since SQLite 3.32, 999 before.
_SQLITE_VARIABLES = 32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999


class _SqlitePlan:
    """A table's insert for one set of columns: its text and each column's value converter.

    Columns the rows leave out that have a default in the schema are set to it, as
    SQLAlchemy's insert would.
    """

    def __init__(self, table: Table, given: tuple[str, ...], dialect: Dialect) -> None:
        defaulted = {k: v for k, v in schema_defaults(table).items() if k not in given}
        self.given = given
        # One C call a row: itemgetter of one name returns the value, not a tuple of it.
        self.pick = itemgetter(*given) if len(given) > 1 else lambda row: (row[given[0]],)
        self.names = given + tuple(defaulted)
        self.defaults = tuple(defaulted.values())
        self.processors = tuple(
            (
                table.c[name].type.dialect_impl(dialect).bind_processor(dialect),
                _repeats(table, name),
            )
            for name in self.names
        )
        columns = ", ".join(self.names)
        self.insert_head = f"INSERT INTO {table.name} ({columns}) VALUES "
        self.one = "(" + ", ".join("?" * len(self.names)) + ")"
        self.insert = self.insert_head + self.one
        self.texts: dict[tuple[int, tuple[str, ...]], str] = {}

    def returning(self, count: int, returning: tuple[str, ...]) -> str:
        """Return the text inserting `count` rows and returning those columns, built once.

        The same string each time: the driver's statement cache hashes it once, not per batch.
        """
        key = (count, returning)
        text = self.texts.get(key)
        if text is None:
            rows = ", ".join([self.one] * count)
            text = self.texts[key] = f"{self.insert_head}{rows} RETURNING {', '.join(returning)}"
        return text

    def values(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Return the rows as parameter tuples in column order, converted for the driver."""
        pick, defaults = self.pick, self.defaults
        raw = [pick(row) + defaults for row in rows]
        columns = []
        for (process, repeats), column in zip(self.processors, zip(*raw, strict=True), strict=True):
            if process is None:
                columns.append(column)
            else:
                columns.append(_converted(column, process, repeats))
        return list(zip(*columns, strict=True))


def _converted(
    column: Sequence[Any], process: Callable[[Any], Any], repeats: str
) -> tuple[Any, ...]:
    """Convert a column's values; times and flags once per distinct value.

    A batch repeats a few instants many times (every row's creation time, the due times of
    clocks started together): mapping each distinct one measured 0.08 against 0.12 us a value
    for formatting through a memo as it goes. Flags have two values.
    """
    if not repeats:
        return tuple(map(process, column))
    if repeats == "time":
        done = {value: process(None if value is None else as_utc(value)) for value in set(column)}
    else:
        done = {value: process(value) for value in set(column)}
    return tuple(map(done.__getitem__, column))


def _repeats(table: Table, name: str) -> str:
    """Return how a column's values repeat in a batch: "time", "flag", or "" (each its own)."""
    kind = table.c[name].type
    return "time" if isinstance(kind, DateTime) else "flag" if isinstance(kind, Boolean) else ""


def schema_defaults(table: Table) -> dict[str, Any]:
    """Return the value each column with a default in the schema takes when an insert omits it.

    A callable default (dict for JSON columns) is called once: the bulk insert converts it to
    text before any row could share and change it.
    """
    return {
        column.name: column.default.arg(None) if column.default.is_callable else column.default.arg
        for column in table.columns
        if isinstance(column.default, ColumnDefault)
    }


@lru_cache(maxsize=64)
def _sqlite_plan(table: Table, given: tuple[str, ...], dialect: Dialect) -> _SqlitePlan:
    return _SqlitePlan(table, given, dialect)


@lru_cache(maxsize=64)
def _recordset_insert(
    table: Table, names: tuple[str, ...], returning: tuple[str, ...], skip_existing: str | None
) -> Insert:
    # The table's own row type gives every field its column's type; fields the rows leave out
    # are not selected, so the columns' defaults apply as in any insert.
    records = func.json_populate_recordset(
        literal_column(f"NULL::{table.name}"), bindparam("rows")
    ).table_valued(*(table.c[name] for name in names))
    source = select(*(records.c[name] for name in names))
    statement = postgresql_insert(table).from_select(list(names), source)
    if skip_existing:
        statement = statement.on_conflict_do_nothing(index_elements=[table.c[skip_existing]])
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement
