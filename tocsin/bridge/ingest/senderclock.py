"""Judge a v2 alert's endsAt by its sender's clock, not the bridge's, and watch senders' skew.

A v2 alert says "firing until endsAt" or "ended at endsAt"; only the sender's clock tells which.
The request's clues, best first: `X-Tocsin-Sender-Time` (RFC 3339, the sender's clock when it
sent the request; the agent sends it) and the HTTP `Date` header (whole seconds). Without a
clue, an endsAt less than the skew tolerance in the past still reads as firing: a sender whose
clock is behind sends firing alerts whose endsAt is already in the bridge's past, and dropping
one of those loses a page, where reading a resolve late only delays the resolution.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

from prometheus_client import Gauge

from tocsin.bridge.errors import InvalidInput
from tocsin.bridge.ingest.parse import parse_time

SENDER_TIME_HEADER = "X-Tocsin-Sender-Time"
_INSTANT = timedelta(microseconds=1)
_DATE_RESOLUTION = timedelta(seconds=1)
_LAST = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # a second short of the end of time

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SenderClock:
    """What a request says about its sender's clock: when it sent, and how to read endsAt."""

    now: datetime | None  # the sender's clock when it sent; None without a clue
    ended_before: datetime  # an endsAt before this says "resolved"; at or after, "firing"


def read_sender_clock(
    headers: Mapping[str, str], now: datetime, tolerance: timedelta
) -> SenderClock:
    """Read the request's clock clue; a malformed X-Tocsin-Sender-Time is InvalidInput."""
    raw = headers.get(SENDER_TIME_HEADER)
    if raw is not None:
        sent = parse_time(raw, SENDER_TIME_HEADER)
        if sent is not None and sent < _LAST:
            return SenderClock(sent, sent + _INSTANT)
        if sent is not None:
            raise InvalidInput(f"{raw[:60]!r} is past the year 9999", field=SENDER_TIME_HEADER)
    dated = _http_date(headers.get("date"))
    if dated is not None and dated < _LAST:
        # Date is cut to whole seconds: the sender's clock was somewhere in the next second.
        return SenderClock(dated, dated + _DATE_RESOLUTION)
    return SenderClock(None, now - tolerance + _INSTANT)


def _http_date(raw: str | None) -> datetime | None:
    """Read an HTTP Date header; a malformed one is no clue (it is the HTTP library's, not ours)."""
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SkewWatch:
    """Export each sender's clock offset, and say once when it passes the tolerance and back.

    Senders are ingest token names, so the gauge has one series per configured token.
    """

    def __init__(self, gauge: Gauge, tolerance: timedelta) -> None:
        self.gauge = gauge
        self.tolerance = tolerance.total_seconds()
        self._beyond: set[str] = set()

    def observe(self, sender: str, clock: SenderClock, now: datetime) -> None:
        """Record the sender's offset (positive: its clock is ahead) if the request told it."""
        if clock.now is None:
            return
        skew = (clock.now - now).total_seconds()
        self.gauge.labels(sender=sender).set(skew)
        if abs(skew) > self.tolerance and sender not in self._beyond:
            self._beyond.add(sender)
            log.warning(
                "sender %r: its clock is %+.0fs off the bridge's, beyond the %.0fs tolerance; "
                "its alerts are judged by its own clock, but fix its time sync",
                sender,
                skew,
                self.tolerance,
            )
        elif abs(skew) <= self.tolerance and sender in self._beyond:
            self._beyond.discard(sender)
            log.info("sender %r: its clock is back within %.0fs", sender, self.tolerance)
