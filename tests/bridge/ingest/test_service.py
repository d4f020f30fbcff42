from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import func, select

from tests.bridge.helpers import FakeClock, config_for, make_runtime
from tocsin.bridge.ingest.parse import Alert
from tocsin.bridge.ingest.service import ingest
from tocsin.bridge.runtime import build_runtime
from tocsin.bridge.store.schema import alerts, incidents

STARTS = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_replicas_racing_on_the_same_new_alerts_open_each_incident_once(database_url: str) -> None:
    # Races, not bounds: on a busy machine a racer may wait for a commit longer than the
    # default queue_timeout.
    first = make_runtime(database_url, queue_timeout=30.0)
    # A second runtime with its own engine stands for another replica on the same database.
    second = build_runtime(config_for(database_url, queue_timeout=30.0), clock=FakeClock())
    batch = [Alert({"alertname": "Race", "n": str(n)}, {}, STARTS, None) for n in range(20)]
    errors: list[BaseException] = []

    def send(runtime: object) -> None:
        try:
            ingest(runtime, batch, "v2")  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(rt,)) for rt in (first, second) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with first.store.connect() as conn:
        counts = (
            conn.execute(select(func.count()).select_from(incidents)).scalar(),
            conn.execute(select(func.count()).select_from(alerts)).scalar(),
            conn.execute(select(func.sum(alerts.c.receive_count))).scalar(),
        )
    first.store.dispose()
    second.store.dispose()
    assert errors == []
    assert counts == (20, 20, 120)
