"""Structured log lines: logfmt or JSON, each with a UTC timestamp and its syslog priority.

`tocsin-agent run --log-format logfmt|json` (or TOCSIN_AGENT_LOG_FORMAT) turns every line into
one record a log shipper can parse without a regular expression:

    ts=2026-12-06T12:00:00.123Z level=warning priority=4 logger=tocsin.agent.pusher msg="..."
    {"ts": "2026-12-06T12:00:00.123Z", "level": "warning", "priority": 4, "logger": "...", ...}

A record may carry `extra={"fields": {...}}` (an alert's labels, for one): logfmt writes them as
`labels.alertname=HostCpuHigh`, JSON as an object. Under systemd the line is prefixed with
`<N>` as the plain format is, so journald files it under its priority either way.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from typing import Any

from tocsin.common.journal import priority

FORMATS = ("text", "logfmt", "json")
_BARE = re.compile(r"[^\s\"=\\]+")


def _timestamp(created: float) -> str:
    seconds = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{seconds}.{int(created % 1 * 1000):03d}Z"


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """Return a record's own fields: time, level, priority, logger, message, extras, traceback."""
    fields: dict[str, Any] = {
        "ts": _timestamp(record.created),
        "level": record.levelname.lower(),
        "priority": priority(record.levelno),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    extra = getattr(record, "fields", None)
    if isinstance(extra, Mapping):
        fields.update(extra)
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    return fields


def _logfmt_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    if text and _BARE.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class LogfmtFormatter(logging.Formatter):
    """Write a record as one logfmt line; nested fields become dotted keys."""

    def format(self, record: logging.LogRecord) -> str:
        parts = []
        for key, value in _fields(record).items():
            if isinstance(value, Mapping):
                parts += [f"{key}.{name}={_logfmt_value(v)}" for name, v in value.items()]
            else:
                parts.append(f"{key}={_logfmt_value(value)}")
        return " ".join(parts)


class JsonFormatter(logging.Formatter):
    """Write a record as one JSON object on one line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), ensure_ascii=False, default=str)


def formatter(name: str, on_journal: bool) -> logging.Formatter | None:
    """Return the formatter of a structured format (None for text), `<N>`-prefixed on journald."""
    base: type[logging.Formatter]
    if name == "logfmt":
        base = LogfmtFormatter
    elif name == "json":
        base = JsonFormatter
    else:
        return None
    if not on_journal:
        return base()

    class OnJournal(base):  # type: ignore[valid-type,misc]
        def format(self, record: logging.LogRecord) -> str:
            return f"<{priority(record.levelno)}>{super().format(record)}"

    return OnJournal()
