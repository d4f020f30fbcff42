"""Durations and sizes as people write them in config files: `30s`, `15m`, `2h`, `1d`, `64MiB`."""

from __future__ import annotations

import re

from tocsin.agent.yamlsrc import shown

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
# Ten years: beyond any sensible interval or `for`, and below what a thread's wait() accepts.
LONGEST = 3650 * 86400.0
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


def parse_duration(text: str) -> float:
    """Return the seconds in a duration such as `90s`, `1h30m` or `0s`; raise ValueError if not one."""
    if not isinstance(text, str) or not text:
        raise ValueError(
            f"{shown(text)} is not a duration; expected a string such as '30s', '5m', '2h'"
        )
    position, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position != len(text):
        raise ValueError(
            f"{shown(text)} is not a duration; expected a string such as '30s', '5m', '2h'"
        )
    if total > LONGEST:
        raise ValueError(f"{shown(text)} is longer than ten years; expected at most '3650d'")
    return total


def format_duration(seconds: float) -> str:
    """Write seconds as the shortest duration Prometheus accepts, e.g. 5400 -> `1h30m`."""
    if seconds <= 0:
        return "0s"
    milliseconds = round(seconds * 1000)
    parts = []
    for unit, size in (("d", 86400000), ("h", 3600000), ("m", 60000), ("s", 1000), ("ms", 1)):
        count, milliseconds = divmod(milliseconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


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
