"""JSON for the hot paths (stored columns, webhook bodies) through orjson, the stdlib's output.

A paging storm spent about a seventh of the bridge's CPU in the stdlib's encoder and decoder:
every page is encoded into its outbox row, decoded when claimed and encoded again to post.
orjson does the same in a fraction of that. Its output is compact UTF-8 (no spaces, non-ASCII
as is); integer keys are written as strings, as the stdlib does.
"""

from __future__ import annotations

from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """Return value as JSON text (a database column's form)."""
    return orjson.dumps(value, option=_OPTIONS).decode()


def dump_bytes(value: Any) -> bytes:
    """Return value as UTF-8 JSON (a request body's form)."""
    return orjson.dumps(value, option=_OPTIONS)


def loads(text: str | bytes) -> Any:
    """Return the value of JSON text."""
    return orjson.loads(text)
