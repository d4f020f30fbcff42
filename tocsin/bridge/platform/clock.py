"""The bridge's notion of now, injectable so SLA and escalation tests run exactly and fast."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Return an aware UTC datetime; naive values (SQLite returns them) are taken as UTC."""
    zone = value.tzinfo
    if zone is UTC:
        return value  # most times already are: converting them again costs a new object each
    return value.replace(tzinfo=UTC) if zone is None else value.astimezone(UTC)


def rfc3339(value: datetime | None) -> str | None:
    """Format a time as RFC 3339 UTC with a Z, the form every API answer uses."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat() + "Z"  # naive is UTC (SQLite): no offset to write, then drop
    return as_utc(value).isoformat().replace("+00:00", "Z")
