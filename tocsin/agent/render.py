"""Show a Sample, or the dead letters, to a person (a table) or to a program (JSON)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from tocsin.agent.deadletters import DeadLetter
from tocsin.agent.sample import Sample, Series

_BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def render_text(sample: Sample) -> str:
    """Lay the sample out as aligned columns: metric, labels, value in a readable unit."""
    rows = [("GAUGE", "LABELS", "VALUE")]
    rows += [_row(series) for series in sample.gauges]
    if not sample.gauges:
        rows.append(("(no gauges: rates need two passes)", "", ""))
    rows.append(("", "", ""))
    rows.append(("COUNTER", "LABELS", "VALUE"))
    rows += [_row(series) for series in sample.counters]
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    lines = [
        f"Sampled at {_timestamp(sample.taken_at)} in {sample.duration_seconds * 1000:.2f} ms",
        "",
    ]
    lines += [
        f"{name:<{widths[0]}}  {labels:<{widths[1]}}  {value}".rstrip() if name else ""
        for name, labels, value in rows
    ]
    if sample.notes:
        lines += ["", "Notes:"] + [f"  {note}" for note in sample.notes]
    return "\n".join(lines) + "\n"


def render_json(sample: Sample) -> str:
    """Serialise the sample as one JSON document with RFC 3339 time and plain numbers."""
    document = {
        "taken_at": _timestamp(sample.taken_at),
        "duration_seconds": sample.duration_seconds,
        "gauges": [_entry(series) for series in sample.gauges],
        "counters": [_entry(series) for series in sample.counters],
        "notes": list(sample.notes),
    }
    return json.dumps(document, indent=2) + "\n"


def _entry(series: Series) -> dict[str, object]:
    return {"name": series.name, "labels": dict(series.labels), "value": series.value}


def _row(series: Series) -> tuple[str, str, str]:
    labels = ",".join(f"{key}={value}" for key, value in series.labels.items())
    return series.name, labels, format_value(series.name, series.value)


def format_value(name: str, value: float) -> str:
    """Write a value in the unit its name declares: percent, bytes, seconds, or plain."""
    if name.endswith("_ratio"):
        return f"{value * 100:.1f} %"
    if name.endswith("_bytes_total") or name.endswith("_bytes"):
        return _bytes(value)
    if name.endswith("_seconds_total") or name.endswith("_seconds"):
        return f"{value:,.2f} s"
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:.2f}"


def _bytes(value: float) -> str:
    for unit in _BYTE_UNITS[:-1]:
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {_BYTE_UNITS[-1]}"


def _timestamp(epoch: float) -> str:
    return (
        datetime.fromtimestamp(epoch, timezone.utc)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def render_dead_letters(path: Path, letters: Sequence[DeadLetter], as_json: bool) -> str:
    """Lay out refused alerts, newest last: when, why, which alert, and the receiver's words."""
    if as_json:
        return "".join(
            json.dumps(letter.to_json(), ensure_ascii=False) + "\n" for letter in letters
        )
    if not letters:
        return f"{path}: no dead letters\n"
    lines = [f"{path}: {len(letters)} dead letter(s)", ""]
    for letter in letters:
        labels = dict(letter.alert.labels)
        state = "firing" if letter.alert.ends_at is None else "resolved"
        held = "withheld from re-sends" if letter.withhold else "not withheld"
        lines.append(
            f"{_timestamp(letter.at)}  {letter.reason}  {labels.get('alertname', '?')} "
            f"({state}, {held})"
        )
        lines.append("    labels: " + ",".join(f"{k}={v!r}" for k, v in sorted(labels.items())))
        lines.append(f"    reason: {letter.detail}")
    return "\n".join(lines) + "\n"
