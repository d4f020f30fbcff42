"""The row a new incident's triggered event carries to hooks is the row the database holds."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from tests.bridge.helpers import T0
from tocsin.bridge import migrations
from tocsin.bridge.incidents.events import Event
from tocsin.bridge.incidents.service import create_incidents
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import incidents


def _comparable(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def test_each_column_of_the_carried_row_equals_the_stored_one(database_url: str) -> None:
    store = Store(database_url)
    migrations.upgrade(store)
    heard: list[Event] = []

    def hook(conn: Connection, event: Event) -> None:
        heard.append(event)

    specs = [
        {"key": f"k{n}", "title": "磁盘满", "priority": "P2", "labels": {"instance": f"h{n}"},
         "annotations": {"summary": "<b>x</b>"}, "escalation_policy": "ops", "host": f"h{n}"}
        for n in range(3)
    ]  # fmt: skip
    with store.begin() as conn:
        ids = create_incidents(conn, [hook], now=T0, source="alert", specs=specs)
    with store.connect() as conn:
        stored = {row.id: row for row in conn.execute(select(incidents))}
    assert [event.incident_id for event in heard] == ids
    for event in heard:
        row = stored[event.incident_id]
        carried = {column.name: getattr(event.opened, column.name) for column in incidents.columns}
        assert {k: _comparable(v) for k, v in carried.items()} == {
            k: _comparable(v) for k, v in row._mapping.items()
        }
    store.dispose()
