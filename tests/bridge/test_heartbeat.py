from __future__ import annotations

from tests.bridge.helpers import FakeClock
from tests.bridge.sla.harness import event_kinds, incident_row, run
from tocsin.bridge.ingest.heartbeats import record_heartbeat
from tocsin.bridge.runtime import Runtime


def beat(runtime: Runtime, host: str = "db1") -> None:
    with runtime.store.begin() as conn:
        record_heartbeat(
            conn,
            runtime.heartbeat_hooks,
            host=host,
            interval_seconds=30,
            labels={"env": "prod"},
            now=runtime.clock(),
        )


def silent_incident(runtime: Runtime, host: str = "db1") -> int | None:
    from sqlalchemy import select

    from tocsin.bridge.store.schema import incidents

    with runtime.store.connect() as conn:
        found = conn.execute(select(incidents.c.id).where(incidents.c.host == host)).scalar()
        return None if found is None else int(found)


def test_host_missing_three_heartbeats_gets_a_p1_incident(
    runtime: Runtime, clock: FakeClock
) -> None:
    beat(runtime)
    clock.advance(seconds=89)
    run(runtime)
    assert silent_incident(runtime) is None
    clock.advance(seconds=1)
    run(runtime)
    incident = silent_incident(runtime)
    assert incident is not None
    row = incident_row(runtime, incident)
    assert (row.priority, row.source, row.key) == ("P1", "heartbeat", "heartbeat:db1")


def test_heartbeats_in_time_keep_the_host_alive(runtime: Runtime, clock: FakeClock) -> None:
    for _ in range(5):
        beat(runtime)
        clock.advance(seconds=60)
        run(runtime)
    assert silent_incident(runtime) is None


def test_returning_heartbeat_resolves_the_silent_incident(
    runtime: Runtime, clock: FakeClock
) -> None:
    beat(runtime)
    clock.advance(seconds=120)
    run(runtime)
    beat(runtime)
    incident = silent_incident(runtime)
    assert incident is not None
    assert incident_row(runtime, incident).status == "resolved"
    assert event_kinds(runtime, incident)[-1] == "incident.resolved"


def test_silent_hosts_are_counted_on_metrics(runtime: Runtime, clock: FakeClock) -> None:
    beat(runtime, "db1")
    clock.advance(seconds=60)
    beat(runtime, "db2")
    clock.advance(seconds=60)
    run(runtime)
    text = runtime.metrics.exposition().decode()
    assert 'tocsin_bridge_heartbeat_hosts{state="silent"} 1.0' in text
    assert 'tocsin_bridge_heartbeat_hosts{state="alive"} 1.0' in text
