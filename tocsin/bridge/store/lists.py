"""`column IN (…)` for a list that travels as one parameter, whatever its length.

SQLAlchemy's expanding IN renders one placeholder per item, so every list length is a new SQL
text: on PostgreSQL psycopg converts it anew and the server parses and plans it anew, which
cost about a sixth of the bridge's CPU on a batch of new incidents. There the list goes as one
array instead, `column = ANY(:list)`, a single text that psycopg prepares once. On SQLite the
list goes as one JSON array, `column IN (SELECT value FROM json_each(:list))`: rendering 200
placeholders into a new text and preparing it again cost the delivery worker about a tenth of
its CPU a page; one text is prepared once and looks each value up in the column's index as the
expanding IN did.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ColumnElement, Integer, Text, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType


class InList(ColumnElement[Any]):
    """The condition `column IN :name`, the list bound at execution as parameter `name`."""

    inherit_cache = True
    # Untyped, not Boolean: SQLite would otherwise compare it with 1 in a WHERE clause.
    type = NullType()
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name


def in_list(column: ColumnElement[Any], name: str) -> InList:
    """Return `column IN :name`; execute with {name: [values]}."""
    return InList(column, name)


@compiles(InList)
def _json_each(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    values = compiler.process(bindparam(element.name, type_=JSON()), **kw)
    column = compiler.process(element.column, **kw)
    return f"{column} IN (SELECT value FROM json_each({values}))"


@compiles(InList, "postgresql")
def _array(element: InList, compiler: SQLCompiler, **kw: Any) -> str:
    item = BigInteger() if isinstance(element.column.type, Integer) else Text()
    array = bindparam(element.name, type_=ARRAY(item))
    return f"{compiler.process(element.column, **kw)} = ANY ({compiler.process(array, **kw)})"
