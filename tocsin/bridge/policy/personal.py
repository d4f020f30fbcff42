"""Read a person's notification rules and quiet hours, refusing anything wrong with line and key.

```yaml
people:
  carol:
    channels: [ops-chat, ops-sms, ops-voice]
    timezone: Asia/Shanghai
    rules:                       # per priority; `default` for the others
      P1: [{after: 0m, via: ops-chat}, {after: 2m, via: ops-sms}, {after: 5m, via: ops-voice}]
      default: [{after: 0m, via: email}]
    quiet_hours: {hours: "22:00-07:00", always: [P1]}
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from tocsin.bridge.platform.where import Where, as_list, as_mapping
from tocsin.bridge.policy.calendars import clock_time, zone
from tocsin.bridge.policy.model import DEFAULT_RULE, EMAIL, PhoneLimit, QuietHours, RuleStep
from tocsin.common.durations import parse_duration
from tocsin.common.yamlsource import shown

QUIET_KEYS = ("hours", "timezone", "always")


def _after(raw: Any, where: Where) -> timedelta:
    try:
        value = timedelta(seconds=parse_duration(raw, numbers=True))
    except ValueError as exc:
        raise where.error(str(exc)) from exc
    if value < timedelta(0):
        raise where.error(f"{shown(raw)} is negative; expected a duration such as '2m'")
    return value


def _step(raw: Any, where: Where, methods: Sequence[str]) -> RuleStep:
    raw = as_mapping(raw, where, ("after", "via"))
    via = raw.get("via")
    if via not in methods:
        raise where.key(raw, "via").error(
            f"{shown(via)} is not one of this person's methods; expected one of "
            f"{', '.join(methods) or 'none (give them email or channels)'}"
        )
    return RuleStep(after=_after(raw.get("after", "0m"), where.key(raw, "after")), via=str(via))


def parse_rules(
    raw: Any, where: Where, *, priorities: Sequence[str], methods: Sequence[str]
) -> dict[str, tuple[RuleStep, ...]]:
    """Return a person's rules by priority; `methods` are their channels (and email if set)."""
    rules: dict[str, tuple[RuleStep, ...]] = {}
    for key, items in as_mapping(raw, where).items():
        at = where.key(raw, key)
        if key not in priorities and key != DEFAULT_RULE:
            raise at.error(
                f"unknown priority {shown(key)}; expected one of {', '.join(priorities)} or "
                f"{DEFAULT_RULE!r}"
            )
        listed = as_list(items, at)
        if not listed:
            raise at.error("a rule needs at least one step, e.g. [{after: 0m, via: email}]")
        steps = tuple(_step(item, at.key(listed, i), methods) for i, item in enumerate(listed))
        for index in range(1, len(steps)):
            if steps[index].after < steps[index - 1].after:
                raise (
                    at.key(listed, index)
                    .key(listed[index], "after")
                    .error(
                        "steps must be listed in the order they fire: this one comes before the "
                        "step above it"
                    )
                )
        rules[str(key)] = steps
    return rules


def parse_quiet_hours(
    raw: Any, where: Where, *, priorities: Sequence[str], person_zone: Any
) -> QuietHours:
    """Return a person's quiet hours: a span in their zone, and the priorities that ignore it."""
    raw = as_mapping(raw, where, QUIET_KEYS)
    span = raw.get("hours")
    at = where.key(raw, "hours")
    if not isinstance(span, str) or span.count("-") != 1:
        raise at.error(f"{shown(span)} is not a span of hours; expected 'HH:MM-HH:MM'")
    start, end = (clock_time(part.strip(), at) for part in span.split("-"))
    if start == end:
        raise at.error(f"{shown(span)} is empty; quiet hours need a start and a different end")
    if raw.get("timezone") is not None:
        timezone = zone(raw["timezone"], where.key(raw, "timezone"))
    elif person_zone is not None:
        timezone = person_zone
    else:
        raise where.error(
            "quiet hours need a time zone: give the person 'timezone' (e.g. Asia/Shanghai)"
        )
    always_at = where.key(raw, "always")
    always = as_list(raw.get("always", list(priorities[:1])), always_at)
    for index, priority in enumerate(always):
        if priority not in priorities:
            raise always_at.key(always, index).error(
                f"unknown priority {shown(priority)}; expected one of {', '.join(priorities)}"
            )
    return QuietHours(start, end, timezone, frozenset(str(p) for p in always))


def parse_phone_limit(raw: Any, where: Where) -> PhoneLimit:
    """Return a person's limit on SMS and calls: `pages` per `per`, calls `call_interval` apart."""
    raw = as_mapping(raw, where, ("pages", "per", "call_interval"))
    pages = raw.get("pages")
    if isinstance(pages, bool) or not isinstance(pages, int) or pages < 1:
        raise where.key(raw, "pages").error(
            f"{shown(pages)} is not a count of pages; expected a whole number from 1, e.g. 3"
        )
    per = _after(raw.get("per"), where.key(raw, "per"))
    if per <= timedelta(0):
        raise where.key(raw, "per").error("expected a window such as '15m'")
    if raw.get("call_interval") is None:
        return PhoneLimit(pages, per)
    interval = _after(raw["call_interval"], where.key(raw, "call_interval"))
    if interval <= timedelta(0):
        raise where.key(raw, "call_interval").error("expected an interval such as '10m'")
    return PhoneLimit(pages, per, interval)


def methods_of(raw: Mapping[str, Any]) -> list[str]:
    """Return the methods a person's rules may name: their channels, and email if they have one."""
    channels = [str(c) for c in raw.get("channels") or () if isinstance(c, str)]
    return channels + ([EMAIL] if raw.get("email") else [])
