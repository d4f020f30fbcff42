from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.bridge.helpers import T0
from tocsin.bridge.ingest.apply import Applied, apply_alerts, apply_batches
from tocsin.bridge.ingest.parse import Alert
from tocsin.bridge.policy import parse_policy
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import alerts, incidents

GROUPED = """
priorities: {P3: {name: general, response: 8h, resolution: 48h}}
routes: [{priority: P3, group_by: [alertname]}]
heartbeat: {priority: P3}
"""
STARTS = T0 - timedelta(minutes=5)


@pytest.fixture
def runtime(runtime: Runtime) -> Runtime:
    """The default runtime, its alerts grouped by the GROUPED policy."""
    runtime.policy = parse_policy(GROUPED)
    return runtime


def fire(name: str, n: int) -> Alert:
    return Alert({"alertname": name, "n": str(n)}, {}, STARTS, None)


def ended(name: str, n: int) -> Alert:
    return Alert(
        {"alertname": name, "n": str(n)}, {}, STARTS, T0 - timedelta(seconds=1), ended=True
    )


def apply(runtime: Runtime, batch: list[Alert]) -> Applied:
    with runtime.store.begin() as conn:
        return apply_alerts(conn, runtime.hooks, runtime.policy, batch, runtime.clock())


def stored(runtime: Runtime) -> list[tuple[str, str, int, str]]:
    """Return (alert n, alert status, incident id, incident status) of every alert row."""
    query = select(alerts.c.labels, alerts.c.status, incidents.c.id, incidents.c.status).join(
        incidents, incidents.c.id == alerts.c.incident_id
    )
    with runtime.store.connect() as conn:
        rows = conn.execute(query.order_by(alerts.c.id)).all()
    return [(row[0]["n"], row[1], row[2], row[3]) for row in rows]


def test_alerts_of_one_group_in_one_batch_open_one_incident(runtime: Runtime) -> None:
    applied = apply(runtime, [fire("Disk", n) for n in range(5)])
    assert (applied.opened, len({row[2] for row in stored(runtime)})) == (1, 1)


def test_an_alert_firing_then_ending_in_one_batch_resolves_its_incident(runtime: Runtime) -> None:
    applied = apply(runtime, [fire("Disk", 1), ended("Disk", 1)])
    assert (applied.opened, applied.resolved) == (1, 1)
    assert stored(runtime) == [("1", "resolved", 1, "resolved")]


def test_a_new_alert_after_its_group_resolves_in_the_batch_opens_a_new_incident(
    runtime: Runtime,
) -> None:
    apply(runtime, [fire("Disk", 1)])
    applied = apply(runtime, [ended("Disk", 1), fire("Disk", 2)])
    assert (applied.opened, applied.resolved) == (1, 1)
    assert stored(runtime) == [("1", "resolved", 1, "resolved"), ("2", "firing", 2, "triggered")]


def test_a_new_alert_before_its_group_ends_keeps_the_incident_open(runtime: Runtime) -> None:
    apply(runtime, [fire("Disk", 1)])
    applied = apply(runtime, [fire("Disk", 2), ended("Disk", 1)])
    assert (applied.opened, applied.resolved) == (0, 0)
    assert stored(runtime) == [("1", "resolved", 1, "triggered"), ("2", "firing", 1, "triggered")]


def test_an_alert_repeated_in_a_batch_is_stored_once_and_counted(runtime: Runtime) -> None:
    applied = apply(runtime, [fire("Disk", 1), fire("Disk", 1), fire("Disk", 1)])
    with runtime.store.connect() as conn:
        counts = conn.execute(select(alerts.c.receive_count)).scalars().all()
    assert (applied.accepted, applied.opened, counts) == (3, 1, [3])


def test_an_alert_firing_again_in_its_open_incident_reuses_its_row(runtime: Runtime) -> None:
    apply(runtime, [fire("Disk", 1), fire("Disk", 2)])
    apply(runtime, [ended("Disk", 1)])
    later = Alert({"alertname": "Disk", "n": "1"}, {}, T0, None)
    applied = apply(runtime, [later])
    assert applied.opened == 0
    assert stored(runtime) == [("1", "firing", 1, "triggered"), ("2", "firing", 1, "triggered")]


def test_opened_incidents_are_numbered_in_the_order_of_their_first_alert(
    runtime: Runtime,
) -> None:
    apply(runtime, [fire("B", 1), fire("A", 1), fire("B", 2), fire("C", 1)])
    with runtime.store.connect() as conn:
        keys = conn.execute(select(incidents.c.title).order_by(incidents.c.id)).scalars().all()
    assert keys == ["B", "A", "C"]


def test_requests_applied_together_are_counted_apart_as_if_one_after_the_other(
    runtime: Runtime,
) -> None:
    batches = [[fire("Disk", 1)], [fire("Disk", 2), fire("Cpu", 1)], [ended("Disk", 1)]]
    with runtime.store.begin() as conn:
        counts = apply_batches(conn, runtime.hooks, runtime.policy, batches, runtime.clock())
    assert [(c.accepted, c.opened, c.resolved) for c in counts] == [(1, 1, 0), (2, 1, 0), (1, 0, 0)]
    assert stored(runtime) == [
        ("1", "resolved", 1, "triggered"),
        ("2", "firing", 1, "triggered"),
        ("1", "firing", 2, "triggered"),
    ]
