"""Durations as people write them in config: 30s, 15m, 2h, 1d, 1w, or combined like 1h30m."""

from __future__ import annotations

import re
from datetime import timedelta

from tocsin.bridge.platform.yamlsource import shown

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# Ten years: beyond any sensible target or delay, and below what a thread's wait() accepts.
_LONGEST = timedelta(days=3650).total_seconds()
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(text: object) -> timedelta:
    """Return the duration a string like '15m' names; raise ValueError with the expected form."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(
            f"{shown(text)} is not a duration; expected a string such as '30s', '15m', '2h'"
        )
    if isinstance(text, (int, float)):
        if not text >= 0:
            raise ValueError(
                f"{shown(text)} is negative or not a number; expected a duration such as '15m'"
            )
        return _bounded(text, float(text))
    compact = text.strip().replace(" ", "")
    if compact == "0":
        return timedelta(0)
    parts = _PART.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError(
            f"{shown(text)} is not a duration; expected a string such as '30s', '15m', '2h', '1d'"
        )
    return _bounded(text, sum(float(number) * _UNITS[unit] for number, unit in parts))


def _bounded(text: object, seconds: float) -> timedelta:
    if not seconds <= _LONGEST:
        raise ValueError(f"{shown(text)} is longer than ten years; expected at most '3650d'")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """Return a compact human form, e.g. '1h30m' or '-5m' for an overdue remainder."""
    total = int(round(delta.total_seconds()))
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, total = divmod(total, size)
        if count:
            out.append(f"{count}{unit}")
    return sign + "".join(out[:2])
