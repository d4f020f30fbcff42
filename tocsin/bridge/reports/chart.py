"""A server-rendered SVG chart of times to acknowledge against the response target, per priority.

Each priority gets its own row and scale (a 15-minute and an 8-hour target share no useful axis):
the p90 bar behind the median bar, a tick at the maximum and a dashed line at the target.
Styling is in presentation attributes, not a <style> element, so the chart keeps its looks when
inlined in a page whose Content-Security-Policy forbids inline styles.
"""

from __future__ import annotations

from collections.abc import Mapping
from xml.sax.saxutils import escape, quoteattr

from tocsin.bridge.reports.figures import SlaReport
from tocsin.bridge.reports.render import human_duration

WIDTH = 680
LABEL = 70
PLOT = 400
ROW = 58
TOP = 34
MET, MISSED, P90_MET, P90_MISSED = "#2e7d32", "#c62828", "#a5d6a7", "#ef9a9a"


# The chart's words; a page passes them in its reader's language.
WORDS = {
    "median": "median",
    "p90": "p90",
    "max": "max",
    "target": "target",
    "no_ack": "no acknowledged incidents",
}


def _row(index: int, priority: str, report: SlaReport, words: Mapping[str, str]) -> list[str]:
    y = TOP + index * ROW
    group = report.by_priority.get(priority)
    target = report.targets.get(priority, {}).get("response")
    label = f'<text x="8" y="{y + 22}" font-weight="bold">{escape(priority)}</text>'
    stats = group.time_to_acknowledge if group else None
    if stats is None or stats.max is None or stats.median is None or stats.p90 is None:
        note = words["no_ack"] + (
            f" ({words['target']} {human_duration(target)})" if target else ""
        )
        return [label, f'<text x="{LABEL}" y="{y + 22}" fill="#555">{escape(note)}</text>']
    top = max(stats.max, (target or 0) * 1.25) or 1.0

    def x(seconds: float) -> float:
        return round(LABEL + PLOT * seconds / top, 1)

    def colour(seconds: float, met: str, missed: str) -> str:
        return met if target is None or seconds <= target else missed

    median, p90, most, aim = (escape(words[k]) for k in ("median", "p90", "max", "target"))
    parts = [
        label,
        f'<line x1="{LABEL}" y1="{y + 30}" x2="{LABEL + PLOT}" y2="{y + 30}" stroke="#999"/>',
        f'<rect x="{LABEL}" y="{y + 8}" width="{x(stats.p90) - LABEL}" height="20" '
        f'fill="{colour(stats.p90, P90_MET, P90_MISSED)}"><title>{p90} {human_duration(stats.p90)}</title></rect>',
        f'<rect x="{LABEL}" y="{y + 12}" width="{x(stats.median) - LABEL}" height="12" '
        f'fill="{colour(stats.median, MET, MISSED)}"><title>{median} {human_duration(stats.median)}</title></rect>',
        f'<line x1="{x(stats.max)}" y1="{y + 4}" x2="{x(stats.max)}" y2="{y + 32}" stroke="#222" stroke-width="2">'
        f"<title>{most} {human_duration(stats.max)}</title></line>",
        f'<text x="{LABEL + PLOT + 10}" y="{y + 16}" >{median} {human_duration(stats.median)}'
        f" · {p90} {human_duration(stats.p90)}</text>",
        f'<text x="{LABEL + PLOT + 10}" y="{y + 32}" >{most} {human_duration(stats.max)}'
        f" · n={stats.count}</text>",
    ]
    if target is not None:
        parts += [
            f'<line x1="{x(target)}" y1="{y}" x2="{x(target)}" y2="{y + 36}" stroke="#1565c0" stroke-width="2" stroke-dasharray="4 3"/>',
            f'<text x="{x(target)}" y="{y + 48}" fill="#1565c0">{aim} {human_duration(target)}</text>',
        ]
    return parts


TITLE = "Time to acknowledge against the response target, per priority"


def response_chart(report: SlaReport, title: str = TITLE, words: Mapping[str, str] = WORDS) -> str:
    """Return an SVG document: time to acknowledge (median, p90, max) against target per priority."""
    priorities = sorted(set(report.targets) | set(report.by_priority))
    height = TOP + ROW * max(1, len(priorities)) + 8
    body = [line for i, p in enumerate(priorities) for line in _row(i, p, report, words)]
    return svg_document(WIDTH, height, title, body)


def svg_document(width: int, height: int, title: str, body: list[str]) -> str:
    """Wrap a chart's elements in an SVG document with its escaped title."""
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(title)} '
            'font-family="sans-serif" font-size="12" fill="#222">',
            f"<title>{escape(title)}</title>",
            f'<text x="8" y="18">{escape(title)}</text>',
            *body,
            "</svg>",
        ]
    )
