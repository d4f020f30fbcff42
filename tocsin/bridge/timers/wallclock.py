"""Turn a span of local wall-clock time into the real (UTC) intervals whose clock reading is in it.

The rule, one for every edge a DST change makes: a real instant is inside a span when the wall
clock in the zone shows a time in [start, end) at that instant. So a span, or the part of one,
that falls in an hour the change skips has no time in it (the clock never shows it), and a span
in an hour the change repeats counts once per real minute: both times the clock passes it.

Offsets are found where they apply, so the zone's transitions need not be listed; two changes
less than a span apart (none exists in the tz database) would be seen as one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

EPSILON = timedelta(microseconds=1)


def _offset(zone: ZoneInfo, instant: datetime) -> timedelta:
    offset = instant.astimezone(zone).utcoffset()
    assert offset is not None  # a ZoneInfo always knows its offset
    return offset


def _change(zone: ZoneInfo, lo: datetime, hi: datetime) -> datetime:
    """Return the first instant after `lo` whose offset differs from lo's (one lies before `hi`)."""
    before = _offset(zone, lo)
    while hi - lo > EPSILON:
        mid = lo + (hi - lo) / 2
        if _offset(zone, mid) == before:
            lo = mid
        else:
            hi = mid
    return hi


def _pieces(zone: ZoneInfo, lo: datetime, hi: datetime) -> list[tuple[datetime, datetime]]:
    """Split a real interval where the zone's offset changes."""
    out = []
    while lo < hi and _offset(zone, lo) != _offset(zone, hi - EPSILON):
        cut = _change(zone, lo, hi)
        out.append((lo, cut))
        lo = cut
    if lo < hi:
        out.append((lo, hi))
    return out


def real_intervals(
    zone: ZoneInfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Return the UTC intervals in which the zone's wall clock reads a time in [start, end).

    `start` and `end` are naive wall-clock times; the intervals come back in order, disjoint.
    """
    offsets = {
        zone.utcoffset(moment.replace(fold=fold)) for moment in (start, end) for fold in (0, 1)
    }
    found: list[tuple[datetime, datetime]] = []
    for offset in offsets:
        assert offset is not None
        lo = (start - offset).replace(tzinfo=UTC)
        hi = (end - offset).replace(tzinfo=UTC)
        found.extend(
            (first, last) for first, last in _pieces(zone, lo, hi) if _offset(zone, first) == offset
        )
    return sorted(found)
