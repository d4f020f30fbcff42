"""Durations and sizes as people write them in config: `30s`, `15m`, `1h30m`, `1w`, `64MiB`."""

from __future__ import annotations

import re

from tocsin.common.yamlsource import shown

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
# Ten years: beyond any sensible interval, target or delay, and below what a thread's wait() accepts.
LONGEST = 3650 * 86400.0
_WRITTEN = (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1))
_SIZE = re.compile(r"(\d+)\s*(B|KB|MB|GB|KiB|MiB|GiB|k|K|M|G)?")
_SIZE_UNITS = {
    None: 1,
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "k": 1024,
    "K": 1024,
    "M": 1024**2,
    "G": 1024**3,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
}
_EXPECTED = "expected a string such as '30s', '15m', '2h', '1d'"


def parse_duration(text: object, *, numbers: bool = False) -> float:
    """Return the seconds in a duration such as `90s`, `1h30m` or `0`; raise ValueError if not one.

    With `numbers`, a plain non-negative number is read as seconds too (the bridge's config).
    """
    if numbers and isinstance(text, (int, float)) and not isinstance(text, bool):
        if not text >= 0:
            raise ValueError(
                f"{shown(text)} is negative or not a number; expected a duration such as '15m'"
            )
        return _bounded(text, float(text))
    if not isinstance(text, str):
        raise ValueError(f"{shown(text)} is not a duration; {_EXPECTED}")
    compact = text.strip().replace(" ", "")
    if compact == "0":
        return 0.0
    parts = _PART.findall(compact)
    if not parts or "".join(number + unit for number, unit in parts) != compact:
        raise ValueError(f"{shown(text)} is not a duration; {_EXPECTED}")
    return _bounded(text, sum(float(number) * _UNITS[unit] for number, unit in parts))


def _bounded(text: object, seconds: float) -> float:
    if not seconds <= LONGEST:
        raise ValueError(f"{shown(text)} is longer than ten years; expected at most '3650d'")
    return seconds


def format_duration(seconds: float, *, largest: int | None = None) -> str:
    """Write seconds as a duration, e.g. 5400 -> `1h30m`, -300 -> `-5m`.

    Exact to the millisecond by default (Prometheus reads it back unchanged); with `largest`,
    rounded to whole seconds and cut to that many units, as people read a countdown.
    """
    sign = "-" if seconds < 0 else ""
    rest = round(abs(seconds)) * 1000 if largest is not None else round(abs(seconds) * 1000)
    parts = []
    for unit, size in _WRITTEN:
        count, rest = divmod(rest, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts[:largest]) if parts else "0s"


def parse_size(text: str | int) -> int:
    """Return the bytes in a size such as `64MiB`, `10MB` or a plain integer."""
    if isinstance(text, bool):
        raise ValueError(f"{shown(text)} is not a size; expected bytes such as '64MiB' or 1048576")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"{shown(text)} is negative; expected a size such as '64MiB'")
        return text
    match = _SIZE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"{shown(text)} is not a size; expected bytes such as '64MiB' or 1048576")
    return int(match.group(1)) * _SIZE_UNITS[match.group(2)]
