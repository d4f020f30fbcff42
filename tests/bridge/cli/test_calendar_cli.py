"""`tocsin-bridge calendar`: a year's special days with their source, and due times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tocsin.bridge.cli import main

POLICY = """\
calendars:
  office:
    timezone: Asia/Shanghai
    hours: ["09:00-12:00", "13:00-18:00"]
    country: CN
    holidays: [2026-12-31]
    workdays: [2026-10-07]
priorities: {P1: {response: 15m}}
routes: [{priority: P1}]
"""


def run(tmp_path: Path, *args: str) -> Result:
    (tmp_path / "policy.yml").write_text(POLICY)
    (tmp_path / "bridge.yml").write_text(f"policy: {tmp_path / 'policy.yml'}\n")
    return CliRunner().invoke(main, ["calendar", *args, "--config", str(tmp_path / "bridge.yml")])


def test_year_lists_country_days_and_local_overrides(tmp_path: Path) -> None:
    result = run(tmp_path, "office", "--year", "2026")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "calendar office [Asia/Shanghai], 2026, country data CN"
    assert "2026-01-01 Thu  day off      country CN      New Year's Day (元旦)" in lines
    assert "2026-01-04 Sun  working day  country CN" in lines
    assert "2026-10-07 Wed  working day  local override" in lines
    assert "2026-12-31 Thu  day off      local override" in lines
    assert "warning" not in result.output


def test_year_as_json(tmp_path: Path) -> None:
    result = run(tmp_path, "office", "--year", "2026", "--json")
    answer = json.loads(result.output)
    assert answer["confirmed"] is True and answer["country"] == "CN"
    make_up = [d["date"] for d in answer["days"] if d["kind"] == "workday" and d["source"] == "CN"]
    assert make_up == [
        "2026-01-04",
        "2026-02-14",
        "2026-02-28",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
    ]
    first = answer["days"][0]
    assert first == {
        "date": "2026-01-01",
        "kind": "holiday",
        "source": "CN",
        "name": "New Year's Day",
        "local_name": "元旦",
    }


def test_year_without_confirmed_data_warns(tmp_path: Path) -> None:
    result = run(tmp_path, "office", "--year", "2027", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["confirmed"] is False
    assert "warning: no confirmed CN holiday data for 2027" in result.stderr


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        ("2026-04-30T17:00", "8h", "2026-05-06T09:00:00Z"),  # over Labour Day
        ("2026-05-08T17:00", "2h", "2026-05-09T02:00:00Z"),  # onto the make-up Saturday
        ("2026-10-06T09:00:00Z", "1h", "2026-10-07T02:00:00Z"),  # a local working day
    ],
)
def test_due_counts_business_time(tmp_path: Path, start: str, duration: str, due: str) -> None:
    result = run(tmp_path, "office", "--due", start, duration, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["due_at"] == due


def test_due_as_text_names_the_local_time(tmp_path: Path) -> None:
    result = run(tmp_path, "office", "--due", "2026-04-30T17:00", "8h")
    assert result.output.startswith("due Wed 2026-05-06 17:00 Asia/Shanghai (2026-05-06T09:00:00Z)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "no calendar 'nope' in "),
        (["office", "--due", "tomorrow", "8h"], "START 'tomorrow' is not a time"),
        (["office", "--due", "2026-04-30T17:00", "8x"], "DURATION: '8x' is not a duration"),
        (["office", "--year", "2026", "--due", "2026-04-30T17:00", "8h"], "--year and --due"),
    ],
)
def test_errors_name_the_problem(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(tmp_path, *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_help_explains_both_uses(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    assert "holidays and make-up working days" in result.output
    assert "--due START DURATION" in result.output
