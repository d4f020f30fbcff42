"""The `notify:` section of the bridge config: ack link lifetime and the outbox's patience."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from tocsin.bridge.platform.where import Where
from tocsin.common.durations import parse_duration
from tocsin.common.yamlsource import shown

KEYS = (
    "ack_link_ttl",
    "max_attempts",
    "retry_base",
    "retry_cap",
    "max_age",
    "stale_pages",
    "deliver_from",
    "parallel",
)
MAX_PARALLEL = 64  # deliveries at once per process: each is a thread and a connection
STALE_ACTIONS = ("drop", "notice")
DELIVER_FROM = ("first", "every", "process")  # who delivers: the first worker process, each, or
# a process of its own (the worker processes then deliver none)


@dataclass(frozen=True)
class NotifySettings:
    """notify: {ack_link_ttl: 24h, retry_base: 5s, retry_cap: 1m, max_age: 24h, stale_pages: drop,
    deliver_from: every, parallel: 8}.

    A delivery is retried by time, not by count: until it is `max_age` old (or its incident no
    longer needs it), then it is a dead letter. `max_attempts`, if set, also ends it sooner.
    """

    ack_link_ttl: timedelta = timedelta(hours=24)
    max_attempts: int | None = None  # no count limit unless set
    retry_base: timedelta = timedelta(seconds=5)  # first retry; doubles each attempt
    retry_cap: timedelta = timedelta(minutes=1)  # longest wait between attempts (plus jitter)
    max_age: timedelta = timedelta(hours=24)  # then the entry is a dead letter
    stale_pages: str = "drop"  # a page whose incident no longer needs it: drop, or a short notice
    # With `workers` > 1: every process delivers (as replicas do; an incident's pages to a
    # channel still leave in order), or only the first; `process`: a process of its own
    # delivers, beside the `workers` that serve (README: Worker processes).
    deliver_from: str = "every"
    # Deliveries at once per delivering process. Against a fast receiver fewer cost less CPU
    # (threads contend for one interpreter lock); against a slow one (a chat vendor 100-300 ms
    # away) each adds about 1/latency pages a second.
    parallel: int = 8


def _duration(raw: Mapping[str, Any], key: str, where: Where, default: timedelta) -> timedelta:
    if key not in raw:
        return default
    try:
        value = timedelta(seconds=parse_duration(raw[key], numbers=True))
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
    attempts = raw.get("max_attempts")
    if attempts is not None and (
        isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1
    ):
        raise where.key(raw, "max_attempts").error(f"{shown(attempts)} is not a whole number >= 1")
    stale = raw.get("stale_pages", NotifySettings.stale_pages)
    if stale not in STALE_ACTIONS:
        raise where.key(raw, "stale_pages").error(
            f"{shown(stale)} is not one of {', '.join(STALE_ACTIONS)}"
        )
    parallel = raw.get("parallel", NotifySettings.parallel)
    if (
        isinstance(parallel, bool)
        or not isinstance(parallel, int)
        or not 1 <= parallel <= MAX_PARALLEL
    ):
        raise where.key(raw, "parallel").error(
            f"{shown(parallel)} is not a whole number from 1 to {MAX_PARALLEL}"
        )
    deliver_from = raw.get("deliver_from", NotifySettings.deliver_from)
    if deliver_from not in DELIVER_FROM:
        raise where.key(raw, "deliver_from").error(
            f"{shown(deliver_from)} is not one of {', '.join(DELIVER_FROM)}"
        )
    defaults = NotifySettings()
    return NotifySettings(
        ack_link_ttl=_duration(raw, "ack_link_ttl", where, defaults.ack_link_ttl),
        max_attempts=attempts,
        retry_base=_duration(raw, "retry_base", where, defaults.retry_base),
        retry_cap=_duration(raw, "retry_cap", where, defaults.retry_cap),
        max_age=_duration(raw, "max_age", where, defaults.max_age),
        stale_pages=str(stale),
        deliver_from=str(deliver_from),
        parallel=parallel,
    )
