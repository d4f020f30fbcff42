"""The database's SLA report gives the numbers the former in-memory computation gave.

Seeded histories vary priorities (one with a business calendar), teams, pauses (repeated,
unmatched and open), escalations, breaches of earlier cycles, disputes and satisfaction; the
report of each, on SQLite and PostgreSQL, must equal the reference's field by field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine

from tests.bridge.reports import reference
from tests.bridge.reports.history import history, store
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.reports.query import load_report
from tocsin.bridge.reports.render import report_to_dict
from tocsin.bridge.store.schema import metadata

SINCE = datetime(2026, 3, 2, 7, 30, tzinfo=UTC)
UNTIL = SINCE + timedelta(days=20)
NOW = UNTIL + timedelta(days=2)


def assert_same(ours: Any, theirs: Any, where: str = "report") -> None:
    """Compare two JSON documents; seconds may differ by float rounding, nothing else may."""
    if isinstance(theirs, float) and isinstance(ours, int | float):
        assert ours == pytest.approx(theirs, abs=1e-3), where
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and sorted(ours) == sorted(theirs), where
        for key, value in theirs.items():
            assert_same(ours[key], value, f"{where}.{key}")
    elif isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), where
        for index, (mine, value) in enumerate(zip(ours, theirs, strict=True)):
            assert_same(mine, value, f"{where}[{index}]")
    else:
        assert ours == theirs, where


@pytest.mark.parametrize("seed", range(4))
def test_seeded_histories_report_the_same(database_url: str, seed: int) -> None:
    policy = load_policy()
    found, timeline, clocks = history(seed, SINCE, 160)
    engine = create_engine(database_url)
    metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            store(conn, found, timeline, clocks)
        with engine.connect() as conn:
            for team, priority in ((None, None), ("db", None), (None, "P3")):
                window = {
                    "since": SINCE,
                    "until": UNTIL,
                    "now": NOW,
                    "team": team,
                    "priority": priority,
                }
                ours = report_to_dict(load_report(conn, policy, **window))
                theirs = report_to_dict(reference.load_report(conn, policy, **window))
                assert theirs["total"]["opened"] > 0
                if team is None and priority is None:
                    # The seeded history reaches every part of the report.
                    assert theirs["breaches"] and theirs["exemptions"] and theirs["unreached"]
                    assert theirs["by_priority"]["P3"]["time_to_resolve_seconds"]["count"]
                assert_same(ours, theirs)
    finally:
        engine.dispose()
