"""When a window is open: one-off windows, and weekly ones kept in their own time zone.

A weekly window ("every Sunday 02:00-04:00 Asia/Shanghai") is turned into real instants per
date in its zone, so it keeps its wall-clock hours across DST changes. A start or end that
falls in an hour a DST change skips moves forward by the gap (zoneinfo's rule for fold=0); in
a repeated hour it is the first occurrence. A window whose end is not after its start on a
date has no time that date. The policy's weekly windows and those stored through the API are
both read by this one evaluator; a stored one may also have a first and a last date (local).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from tocsin.bridge.policy.matchers import Matcher, match_all

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Weekly:
    """Wall-clock hours on some weekdays in one zone; `end` before `start` runs past midnight."""

    days: tuple[int, ...]  # 0 = Monday
    start: time
    end: time
    zone: ZoneInfo
    first: date | None = None  # no occurrence starts on a local date before this one
    until: date | None = None  # nor after this one

    def occurrence(self, now: datetime) -> tuple[datetime, datetime] | None:
        """Return the occurrence open at `now` as UTC instants, if any."""
        local = now.astimezone(self.zone).date()
        for day in (local, local - timedelta(days=1)):
            if not self._on(day):
                continue
            start, end = self._instants(day)
            if start <= now < end:
                return start, end
        return None

    def next_start(self, now: datetime, horizon_days: int = 8) -> datetime | None:
        """Return the start of the next occurrence after `now`, looking a week ahead."""
        local = now.astimezone(self.zone).date()
        if self.first is not None and self.first > local:
            local = self.first
        for offset in range(horizon_days):
            day = local + timedelta(days=offset)
            if self._on(day):
                start, end = self._instants(day)
                if start > now and end > start:
                    return start
        return None

    def _on(self, day: date) -> bool:
        return (
            day.weekday() in self.days
            and (self.first is None or day >= self.first)
            and (self.until is None or day <= self.until)
        )

    def _instants(self, day: date) -> tuple[datetime, datetime]:
        end_day = day + timedelta(days=1) if self.end <= self.start else day
        start = datetime.combine(day, self.start, self.zone).astimezone(UTC)
        end = datetime.combine(end_day, self.end, self.zone).astimezone(UTC)
        return start, end


@dataclass(frozen=True)
class Window:
    """A maintenance window: what it covers, when, why and who set it."""

    key: str  # "12" for a stored window, "policy:NAME" for one from the policy
    matchers: tuple[Matcher, ...]
    reason: str
    created_by: str | None
    starts_at: datetime | None = None  # one-off windows
    ends_at: datetime | None = None
    weekly: Weekly | None = None

    def open_span(self, now: datetime) -> tuple[datetime, datetime] | None:
        """Return (start, end) of the span open at `now`, or None when closed."""
        if self.weekly is not None:
            return self.weekly.occurrence(now)
        assert self.starts_at is not None and self.ends_at is not None
        if self.starts_at <= now < self.ends_at:
            return self.starts_at, self.ends_at
        return None

    def covers(self, labels: Mapping[str, str], now: datetime) -> bool:
        """Return whether the window is open at `now` and matches the labels."""
        return self.open_span(now) is not None and match_all(self.matchers, labels)


def covering(
    windows: Sequence[Window], labels: Mapping[str, str], now: datetime
) -> tuple[Window, datetime] | None:
    """Return the open window covering the labels that ends last, with its end, if any."""
    best: tuple[Window, datetime] | None = None
    for window in windows:
        span = window.open_span(now)
        if span is not None and match_all(window.matchers, labels):
            if best is None or span[1] > best[1]:
                best = (window, span[1])
    return best
