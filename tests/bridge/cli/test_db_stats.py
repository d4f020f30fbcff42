"""`tocsin-bridge db stats` prints rows and size per table on either database."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tests.bridge.helpers import FakeClock, make_runtime
from tocsin.bridge.cli import main


def test_db_stats_counts_rows_and_measures_every_table(database_url: str) -> None:
    runtime = make_runtime(database_url, FakeClock())
    for n in range(3):
        runtime.incidents.create(title=f"disk {n}", priority="P2", actor="desk")
    runtime.store.dispose()
    result = CliRunner().invoke(main, ["db", "stats", "--database-url", database_url, "--json"])
    assert result.exit_code == 0, result.output
    tables = {table["name"]: table for table in json.loads(result.output)["tables"]}
    assert tables["incidents"]["rows"] == 3
    assert tables["incidents"]["size_bytes"] > 0
    assert {"timers", "outbox", "heartbeats", "alerts", "events"} <= set(tables)
    text = CliRunner().invoke(main, ["db", "stats", "--database-url", database_url]).output
    assert "incidents" in text and "total" in text
