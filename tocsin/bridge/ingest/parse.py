"""Validate senders' payloads alert by alert: the good ones go on, the bad ones are named.

Accepted shapes: Alertmanager API v2 postable alerts (a JSON list) and the Alertmanager webhook
(version 4, alerts under "alerts"). Unknown fields are ignored, as newer Alertmanagers add some.
Whether an alert says "firing" or "resolved" is settled here, once: the webhook's `status`
decides on that route; a v2 alert has ended when its endsAt is before `ended_before`, a time
the caller reads off the sender's own clock where it can (tocsin.bridge.ingest.senderclock).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tocsin.bridge.errors import InvalidInput, MalformedInput, PayloadTooLarge

MAX_LABELS = 100
MAX_NAME = 256
MAX_VALUE = 8192
_INSTANT = timedelta(microseconds=1)
_TIME = re.compile(
    r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:?\d\d)?$", re.IGNORECASE
)


@dataclass(frozen=True)
class Alert:
    """One alert as the bridge understands it, with times in UTC."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str | None = None
    ended: bool = False  # the sender says it is resolved, not firing


@dataclass(frozen=True)
class Rejection:
    """An alert of the batch that was refused, and why."""

    index: int
    field: str
    error: str


@dataclass
class Parsed:
    """The alerts of a request that passed validation, and those that did not."""

    alerts: list[Alert] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)  # each alert's index in the request


def load_json(body: bytes) -> Any:
    """Decode a request body; malformed or too deeply nested JSON is InvalidInput (400)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedInput(
            f"request body is not valid JSON: {str(exc)[:200]}", field="body"
        ) from exc


def parse_v2(
    payload: Any,
    now: datetime,
    max_alerts: int,
    *,
    ended_before: datetime | None = None,
    sent_at: datetime | None = None,
) -> Parsed:
    """Validate Alertmanager API v2 postable alerts: a list of {labels, annotations, …}.

    An alert has ended when its endsAt is before `ended_before` (default: just after `now`);
    one without startsAt starts at `sent_at`, the sender's clock when known, else at `now`.
    """
    if not isinstance(payload, list):
        raise InvalidInput("expected a JSON list of alerts", field="body")
    cutoff = ended_before or now + _INSTANT
    return _parse_all(payload, sent_at or now, max_alerts, prefix="", ended_before=cutoff)


def parse_webhook(payload: Any, now: datetime, max_alerts: int) -> Parsed:
    """Validate an Alertmanager webhook notification (version 4)."""
    if not isinstance(payload, dict):
        raise InvalidInput("expected a JSON object (Alertmanager webhook)", field="body")
    version = payload.get("version", "4")
    if str(version) != "4":
        raise InvalidInput(
            f"webhook version {version!r} unsupported; expected '4'", field="version"
        )
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise InvalidInput("expected 'alerts' to be a list", field="alerts")
    return _parse_all(alerts, now, max_alerts, prefix="alerts", ended_before=None)


def _parse_all(
    items: list[Any],
    now: datetime,
    max_alerts: int,
    *,
    prefix: str,
    ended_before: datetime | None,
) -> Parsed:
    if len(items) > max_alerts:
        raise PayloadTooLarge(
            f"{len(items)} alerts in one request; at most {max_alerts} (limits.max_alerts_per_request)"
        )
    parsed = Parsed()
    for index, item in enumerate(items):
        try:
            parsed.alerts.append(_alert(item, now, ended_before))
            parsed.positions.append(index)
        except InvalidInput as exc:
            where = f"{prefix}[{index}]" + (f".{exc.field}" if exc.field else "")
            parsed.rejected.append(Rejection(index=index, field=where, error=exc.message))
    return parsed


def _alert(item: Any, now: datetime, ended_before: datetime | None) -> Alert:
    if not isinstance(item, dict):
        raise InvalidInput(f"expected an object, got {type(item).__name__}")
    labels = _strings(item.get("labels"), "labels", required=True)
    annotations = _strings(item.get("annotations"), "annotations", required=False)
    starts_at = parse_time(item.get("startsAt"), "startsAt") or now
    ends_at = parse_time(item.get("endsAt"), "endsAt")
    if ended_before is None:
        # The webhook's status is authoritative, whatever its endsAt says about clocks.
        ended = _status(item.get("status"), ends_at, now)
        if ended and ends_at is None:
            ends_at = max(now, starts_at)
        if not ended:
            ends_at = None
    else:
        ended = ends_at is not None and ends_at < ended_before
    if ends_at is not None and ends_at < starts_at:
        raise InvalidInput("endsAt is before startsAt", field="endsAt")
    url = item.get("generatorURL")
    if url is not None and not (isinstance(url, str) and _unicode(url)):
        raise InvalidInput("expected a string of valid Unicode", field="generatorURL")
    return Alert(labels, annotations, starts_at, ends_at, url[:2000] if url else None, ended)


def _status(raw: Any, ends_at: datetime | None, now: datetime) -> bool:
    """Return whether a webhook alert is resolved: its status says, else its endsAt."""
    if raw == "resolved":
        return True
    if raw == "firing":
        return False
    return ends_at is not None and ends_at <= now


def _strings(raw: Any, name: str, *, required: bool) -> dict[str, str]:
    if raw is None and not required:
        return {}
    if not isinstance(raw, dict) or (required and not raw):
        raise InvalidInput("expected a non-empty object of strings", field=name)
    if len(raw) > MAX_LABELS:
        raise InvalidInput(f"{len(raw)} entries; at most {MAX_LABELS}", field=name)
    out: dict[str, str] = {}
    for key, value in raw.items():
        if not key or len(key) > MAX_NAME:
            raise InvalidInput(f"names must be 1 to {MAX_NAME} characters", field=name)
        if not isinstance(value, str):
            raise InvalidInput(
                f"expected a string, got {type(value).__name__}", field=_at(name, key)
            )
        if len(value) > MAX_VALUE:
            raise InvalidInput(f"longer than {MAX_VALUE} characters", field=_at(name, key))
        if "\x00" in key or "\x00" in value:
            raise InvalidInput("contains a NUL character", field=_at(name, key))
        if not (_unicode(key) and _unicode(value)):
            raise InvalidInput("contains a lone surrogate (\\ud800-\\udfff)", field=_at(name, key))
        if name == "labels" and value == "":
            continue  # Prometheus semantics: an empty label value is the same as no label.
        out[key] = value
    if required and not out:
        raise InvalidInput("expected at least one label with a value", field=name)
    return out


def parse_time(raw: Any, name: str) -> datetime | None:
    """Read an RFC 3339 time into UTC; None when absent or Go's zero time, InvalidInput if bad."""
    if raw is None or raw == "":
        return None
    match = _TIME.match(raw) if isinstance(raw, str) else None
    if match is None:
        raise InvalidInput(f"{str(raw)[:60]!r} is not an RFC 3339 time", field=name)
    fraction = (match.group(2) or "")[:7]  # Go sends nanoseconds; Python keeps microseconds.
    zone = match.group(3) or "Z"
    try:
        value = datetime.fromisoformat(
            match.group(1) + fraction + ("+00:00" if zone in "Zz" else zone)
        )
    except ValueError as exc:
        raise InvalidInput(f"{raw!r} is not an RFC 3339 time", field=name) from exc
    # Alertmanager's webhook sends the zero time (year 1) for "no end".
    if value.year <= 1:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput(f"{raw!r} is past the year 9999 in UTC", field=name) from exc


def _at(name: str, key: str) -> str:
    """Return where in an alert a bad entry is: `labels.NAME`, the name printable whatever it holds."""
    return f"{name}.{key.encode(errors='backslashreplace').decode()}"


def _unicode(text: str) -> bool:
    """Return whether text can be stored: JSON's \\ud800 escapes decode to unencodable halves."""
    if text.isascii():
        return True  # no surrogate is ASCII; the usual label costs no encoding
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
