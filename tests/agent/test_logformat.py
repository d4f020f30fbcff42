"""Structured log lines: logfmt and JSON with time, level, priority and an alert's labels."""

from __future__ import annotations

import json
import logging
import sys

from tocsin.agent.logformat import JsonFormatter, LogfmtFormatter, formatter


def record(message: str, level: int = logging.WARNING, **fields: object) -> logging.LogRecord:
    made = logging.LogRecord("tocsin.agent.pusher", level, __file__, 1, message, (), None)
    made.created = 1_765_022_400.25
    if fields:
        made.fields = fields
    return made


def test_logfmt_quotes_what_needs_it_and_dots_nested_fields() -> None:
    line = LogfmtFormatter().format(
        record(
            'push failed (http://b/x: HTTP 503: "busy")', labels={"alertname": "A", "env": "a b"}
        )
    )
    assert line == (
        "ts=2025-12-06T12:00:00.250Z level=warning priority=4 logger=tocsin.agent.pusher "
        'msg="push failed (http://b/x: HTTP 503: \\"busy\\")" labels.alertname=A labels.env="a b"'
    )


def test_json_is_one_object_a_line_with_the_traceback_inside() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record("cycle failed", logging.ERROR)
        failed.exc_info = sys.exc_info()
    text = JsonFormatter().format(failed)
    assert "\n" not in text
    parsed = json.loads(text)
    assert (parsed["level"], parsed["priority"], parsed["msg"]) == ("error", 3, "cycle failed")
    assert "ValueError: boom" in parsed["exc"]


def test_on_the_journal_each_line_starts_with_its_priority() -> None:
    chosen = formatter("logfmt", on_journal=True)
    assert chosen is not None
    assert chosen.format(record("x", logging.ERROR)).startswith("<3>ts=")
    assert formatter("text", on_journal=True) is None
