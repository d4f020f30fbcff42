"""The SVG response chart: valid SVG, one row per priority, targets drawn, no script."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.bridge.reports.history import sql_report
from tests.bridge.reports.test_compute import CLOCKS, EVENTS, INCIDENTS, NOW, SINCE, UNTIL
from tocsin.bridge.reports.chart import response_chart

SVG = "{http://www.w3.org/2000/svg}"


def chart() -> ET.Element:
    report = sql_report(INCIDENTS, EVENTS, CLOCKS, since=SINCE, until=UNTIL, now=NOW)
    return ET.fromstring(response_chart(report))


def test_chart_is_well_formed_svg_without_script_or_style_element() -> None:
    root = chart()
    assert root.tag == f"{SVG}svg"
    assert not root.findall(f".//{SVG}script")
    assert not root.findall(f".//{SVG}style")  # the board's CSP forbids inline style elements


def test_chart_draws_a_target_line_for_every_priority_with_data() -> None:
    labels = [t.text for t in chart().iter(f"{SVG}text") if (t.text or "").startswith("target")]
    assert labels == ["target 15m", "target 30m"]


def test_priority_without_acknowledgements_says_so_and_names_its_target() -> None:
    texts = [t.text for t in chart().iter(f"{SVG}text")]
    assert "no acknowledged incidents (target 8h 00m)" in texts


def test_median_over_target_is_drawn_as_missed() -> None:
    root = chart()
    medians = [r for r in root.iter(f"{SVG}rect") if "median" in (r.findtext(f"{SVG}title") or "")]
    # P1 median 12m30s < 15m: met; P2 median 27m30s < 30m: met.
    assert [r.get("fill") for r in medians] == ["#2e7d32", "#2e7d32"]
