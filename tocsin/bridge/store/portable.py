"""SQL functions that SQLite and PostgreSQL spell differently, so one query serves both.

Reports aggregate in the database; they need seconds since the epoch from a stored time, the
larger or smaller of two values, and a few tests of JSON payload values. SQLite keeps times as
text ('2026-03-02 10:00:00.000000', UTC); PostgreSQL as timestamptz.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, FunctionElement, String, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler


class epoch(FunctionElement[float]):  # noqa: N801 - reads as the SQL function it renders
    """Seconds since 1970-01-01 UTC of a stored time, to the microsecond."""

    type = Float()
    inherit_cache = True
    name = "epoch"


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # Whole seconds from the first 19 characters (strftime would round the fraction in), then
    # the microseconds that follow them.
    text = compiler.process(element.clauses, **kw)
    whole = f"CAST(strftime('%s', substr({text}, 1, 19)) AS REAL)"
    return f"({whole} + CAST(substr({text}, 20) AS REAL))"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS FLOAT)"


class greatest(FunctionElement[Any]):  # noqa: N801
    """The largest of its arguments (SQLite's scalar max)."""

    inherit_cache = True
    name = "greatest"


class least(FunctionElement[Any]):  # noqa: N801
    """The smallest of its arguments (SQLite's scalar min)."""

    inherit_cache = True
    name = "least"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


@compiles(least, "sqlite")
def _least_sqlite(element: least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "postgresql")
@compiles(least, "postgresql")
def _extreme_postgresql(element: greatest | least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{element.name.upper()}({compiler.process(element.clauses, **kw)})"


class json_text(FunctionElement[str]):  # noqa: N801
    """A top-level JSON member as SQL text: false and true read 'false' and 'true' on both."""

    type = String()
    inherit_cache = True
    name = "json_text"

    def __init__(self, column: ColumnElement[Any], member: str) -> None:
        super().__init__(column)
        self.member = member


@compiles(json_text, "sqlite")
def _json_text_sqlite(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    path = f"'$.{element.member}'"
    # json_extract gives 1/0 for true/false; json_type tells them apart from numbers.
    return (
        f"(CASE json_type({column}, {path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
        f"ELSE CAST(json_extract({column}, {path}) AS TEXT) END)"
    )


@compiles(json_text, "postgresql")
def _json_text_postgresql(element: json_text, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(({compiler.process(element.clauses, **kw)}) ->> '{element.member}')"


def json_truthy(value: ColumnElement[str]) -> ColumnElement[bool]:
    """Return whether a member read by json_text is truthy the way Python reads the payload."""
    return func.coalesce(value, "").not_in(("", "false", "0", "0.0", "null", "[]", "{}"))
