"""Path and query parameters that name rows: ids the database can hold, refused by name if not."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

# The largest id a 64-bit INTEGER (SQLite) or BIGINT (PostgreSQL) column holds; a bigger one
# would overflow in the driver and answer 500 instead of naming the parameter.
MAX_ROW_ID = 2**63 - 1

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a row id, 1 or more")]


def row_id(text: str) -> int | None:
    """Return the id a path segment or cursor names, or None if it names none (ASCII digits only)."""
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None
