"""Rendering the SLA report: JSON, CSV, terminal table."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.bridge.reports.history import sql_report
from tests.bridge.reports.reference import EventFacts
from tests.bridge.reports.test_compute import CLOCKS, EVENTS, INCIDENTS, NOW, SINCE, UNTIL, t
from tocsin.bridge.reports.figures import SlaReport
from tocsin.bridge.reports.render import human_duration, render


@pytest.fixture(scope="module")
def report() -> SlaReport:
    return sql_report(
        INCIDENTS, EVENTS, CLOCKS, since=SINCE, until=UNTIL, now=NOW, filters={"team": "ops"}
    )


def test_json_carries_groups_breaches_and_window(report: SlaReport) -> None:
    doc = json.loads(render(report, "json"))
    assert doc["since"] == "2026-03-02T00:00:00Z"
    assert doc["by_priority"]["P1"]["time_to_acknowledge_seconds"]["median"] == 750
    assert doc["total"]["clocks"]["update"]["within_target_ratio"] == 0.75
    assert [b["incident_id"] for b in doc["breaches"]] == [2, 4, 4]
    assert doc["exemptions"][0]["reason"] == "reporter did not provide information"


def test_csv_has_one_row_per_group_and_per_breach(report: SlaReport) -> None:
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert [(r["kind"], r["key"]) for r in rows[:7]] == [
        ("priority", "P1"),
        ("priority", "P2"),
        ("priority", "P3"),
        ("team", "(none)"),
        ("team", "db"),
        ("team", "ops"),
        ("total", "all"),
    ]
    assert rows[6]["ack_p90_seconds"] == "2250.0"
    breach = rows[7]
    assert (breach["kind"], breach["incident_id"], breach["clock"], breach["late_seconds"]) == (
        "breach",
        "2",
        "response",
        "300.0",
    )
    assert rows[-1]["kind"] == "exemption"


def test_table_shows_figures_and_reasons(report: SlaReport) -> None:
    text = render(report, "table")
    assert "(team=ops)" in text
    assert "primary's phone was off" in text
    assert "Exempt breaches (1)" in text
    p1 = next(line for line in text.splitlines() if line.startswith("P1 "))
    assert p1.split()[1:4] == ["2", "12m", "18m"]  # opened, ack median 750s, p90 1110s


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (45, "45s"), (750, "12m"), (7500, "2h 05m"), (302100, "3d 11h")],
)
def test_human_duration(seconds: float | None, text: str) -> None:
    assert human_duration(seconds) == text


def test_json_and_table_list_steps_that_reached_nobody() -> None:
    events = [
        *EVENTS,
        EventFacts(2, "incident.escalated", t(3, 8, 5), {"unreached": ["schedule:night"]}),
    ]
    report = sql_report(INCIDENTS, events, CLOCKS, since=SINCE, until=UNTIL, now=NOW)
    doc = json.loads(render(report, "json"))
    assert [(u["incident_id"], u["targets"]) for u in doc["unreached"]] == [(2, ["schedule:night"])]
    assert "Escalation steps that reached nobody (1)" in render(report, "table")
