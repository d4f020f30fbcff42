"""An SVG chart of the weekly trend: share within the response target and median time to acknowledge.

One row per priority: a line through each week's share within target (0-100 %, a week without
decided clocks leaves a gap), and under each week its median time to acknowledge. Presentation
attributes only, as in chart.py, so it keeps its looks under a strict Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from tocsin.bridge.reports.chart import svg_document
from tocsin.bridge.reports.render import human_duration, percent
from tocsin.bridge.reports.trend import Week

WIDTH = 680
LABEL = 70
PLOT = 560
ROW = 96
TOP = 34
HEIGHT = 50  # of the 0-100 % band
LINE = "#1565c0"
# The chart's words; a page passes them in its reader's language.
WORDS = {"median": "median", "within": "within target", "empty": "no incidents in the window"}


def _row(index: int, priority: str, weeks: Sequence[Week], words: Mapping[str, str]) -> list[str]:
    y = TOP + index * ROW
    step = PLOT / max(1, len(weeks))
    parts = [
        f'<text x="8" y="{y + 28}" font-weight="bold">{escape(priority)}</text>',
        f'<line x1="{LABEL}" y1="{y + HEIGHT}" x2="{LABEL + PLOT}" y2="{y + HEIGHT}" stroke="#999"/>',
        f'<line x1="{LABEL}" y1="{y}" x2="{LABEL + PLOT}" y2="{y}" stroke="#ddd"/>',
        f'<text x="{LABEL - 4}" y="{y + 4}" text-anchor="end" fill="#555">100%</text>',
        f'<text x="{LABEL - 4}" y="{y + HEIGHT}" text-anchor="end" fill="#555">0%</text>',
    ]
    segment: list[str] = []
    for number, week in enumerate(weeks):
        x = round(LABEL + step * (number + 0.5), 1)
        label = f"{week.start:%m-%d}"
        parts.append(f'<text x="{x}" y="{y + HEIGHT + 14}" text-anchor="middle">{label}</text>')
        parts.append(
            f'<text x="{x}" y="{y + HEIGHT + 28}" text-anchor="middle" fill="#555">'
            f"{human_duration(week.ack_median)}</text>"
        )
        if week.within_target is None:
            if len(segment) > 1:
                parts.append(_polyline(segment))
            segment = []
            continue
        point_y = round(y + HEIGHT * (1 - week.within_target), 1)
        segment.append(f"{x},{point_y}")
        parts.append(
            f'<circle cx="{x}" cy="{point_y}" r="3" fill="{LINE}">'
            f"<title>{label}: {percent(week.within_target)} {escape(words['within'])}, "
            f"{escape(words['median'])} {human_duration(week.ack_median)}, n={week.opened}"
            "</title></circle>"
        )
    if len(segment) > 1:
        parts.append(_polyline(segment))
    return parts


def _polyline(points: Sequence[str]) -> str:
    return f'<polyline points="{" ".join(points)}" fill="none" stroke="{LINE}" stroke-width="2"/>'


TITLE = "Weekly share within the response target (line) and median time to acknowledge (below)"


def trend_chart(
    trend: Mapping[str, Sequence[Week]], title: str = TITLE, words: Mapping[str, str] = WORDS
) -> str:
    """Return an SVG document of the weekly trend per priority."""
    height = TOP + ROW * max(1, len(trend)) + 8
    body = [line for i, (p, weeks) in enumerate(trend.items()) for line in _row(i, p, weeks, words)]
    if not trend:
        body = [f'<text x="8" y="{TOP + 20}" fill="#555">{escape(words["empty"])}</text>']
    return svg_document(WIDTH, height, title, body)
