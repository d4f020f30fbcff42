"""The `notify:` section of the bridge config: ack link lifetime and the outbox's patience."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tocsin.bridge.platform.durations import parse_duration
from tocsin.bridge.platform.yamlsource import Where, shown

KEYS = ("ack_link_ttl", "max_attempts", "retry_base", "retry_cap")


@dataclass(frozen=True)
class NotifySettings:
    """notify: {ack_link_ttl: 24h, max_attempts: 12, retry_base: 5s, retry_cap: 15m}."""

    ack_link_ttl: timedelta = timedelta(hours=24)
    max_attempts: int = 12  # then the entry is a dead letter (about 2 hours of retrying)
    retry_base: timedelta = timedelta(seconds=5)  # first retry; doubles each attempt
    retry_cap: timedelta = timedelta(minutes=15)  # longest wait between attempts


def _duration(raw: Mapping[str, Any], key: str, where: Where, default: timedelta) -> timedelta:
    if key not in raw:
        return default
    try:
        value = parse_duration(raw[key])
    except ValueError as exc:
        raise where.key(raw, key).error(str(exc)) from exc
    if value <= timedelta(0):
        raise where.key(raw, key).error(f"{shown(raw[key])} must be longer than zero")
    return value


def parse_notify(raw: Any, where: Where) -> NotifySettings:
    """Validate the `notify:` mapping; absent means the defaults."""
    if raw is None:
        return NotifySettings()
    if not isinstance(raw, Mapping):
        raise where.error(f"expected a mapping with keys {', '.join(KEYS)}")
    for key in raw:
        if key not in KEYS:
            raise where.key(raw, str(key)).error(f"unknown key; expected one of {', '.join(KEYS)}")
    attempts = raw.get("max_attempts", NotifySettings.max_attempts)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise where.key(raw, "max_attempts").error(f"{shown(attempts)} is not a whole number >= 1")
    defaults = NotifySettings()
    return NotifySettings(
        ack_link_ttl=_duration(raw, "ack_link_ttl", where, defaults.ack_link_ttl),
        max_attempts=attempts,
        retry_base=_duration(raw, "retry_base", where, defaults.retry_base),
        retry_cap=_duration(raw, "retry_cap", where, defaults.retry_cap),
    )
