"""Path and query parameters that name rows: ids the database can hold, refused by name if not."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path

from tocsin.bridge.errors import InvalidInput

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


def without_nul(value: Any) -> Any:
    """Return value if no text in it holds NUL (PostgreSQL refuses it); else raise ValueError."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character")
    elif isinstance(value, dict):
        for key, item in value.items():
            without_nul(key)
            without_nul(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            without_nul(item)
    return value


def refuse_nul(value: str | None, name: str) -> None:
    """Refuse a query parameter holding NUL, naming it, before it reaches the database."""
    if value is not None and "\x00" in value:
        raise InvalidInput(f"{name} contains a NUL character", field=name)
