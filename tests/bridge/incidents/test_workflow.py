"""The on-call workflow on the incident service: one intake, pause, reopen, amend, reassign."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from tests.bridge.sla.harness import (
    FakeClock,
    clock_row,
    event_data,
    incident_row,
    make_runtime,
    pages,
    pending_kinds,
    run,
)
from tocsin.bridge.errors import Conflict, InvalidInput
from tocsin.bridge.incidents.intake import Report
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.runtime import Runtime

ROUTED = """
priorities:
  P1: {name: emergency, response: 15m, update: 2h, resolution: 2h}
  P3: {name: general, response: 8h, resolution: 48h}
routes:
  - {match: {service: payments}, priority: P1, team: pay, escalation: pay}
  - {match: {severity: critical}, priority: P1, escalation: ops}
  - {priority: P3, escalation: ops, team: ops}
people:
  primary: {name: Primary on-call, email: primary@example.com}
  payer: {name: Payments on-call, email: payer@example.com}
teams:
  ops: {members: [primary]}
  pay: {members: [payer]}
escalation_policies:
  ops: {steps: [{after: 0m, notify: [team:ops]}]}
  pay: {steps: [{after: 0m, notify: [team:pay]}]}
"""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    built = make_runtime(sqlite_url, clock, ROUTED)
    yield built
    built.store.dispose()


def report(runtime: Runtime, **fields: object) -> int:
    return runtime.incidents.report(Report(title="cannot pay", **fields), actor="desk")  # type: ignore[arg-type]


def test_a_p1_report_pages_like_a_p1_alert(runtime: Runtime) -> None:
    report(runtime, priority="P1", reporter="Wang", contact="555")
    assert pages(runtime) == [("person:primary",)]


def test_a_report_is_routed_by_its_service(runtime: Runtime) -> None:
    incident = report(runtime, service="payments")
    row = incident_row(runtime, incident)
    assert (row.priority, row.team, row.escalation_policy) == ("P1", "pay", "pay")
    assert pages(runtime) == [("person:payer",)]


def test_a_report_is_routed_by_its_labels(runtime: Runtime) -> None:
    incident = report(runtime, labels={"severity": "critical"})
    assert incident_row(runtime, incident).priority == "P1"


def test_a_named_priority_wins_over_the_route(runtime: Runtime) -> None:
    assert (
        incident_row(runtime, report(runtime, service="payments", priority="P3")).priority == "P3"
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"assignee": "nobody-such"}, "assignee"),
        ({"priority": "P9"}, "priority"),
    ],
)
def test_a_report_naming_the_unknown_is_refused(
    runtime: Runtime, fields: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        report(runtime, **fields)
    assert refused.value.field == field


def test_a_reported_assignee_is_paged(runtime: Runtime) -> None:
    incident = report(runtime, service="payments", assignee="primary")
    assert incident_row(runtime, incident).assignee == "primary"
    assert sorted(pages(runtime)) == [("person:payer",), ("person:primary",)]


def test_pause_before_acknowledgement_is_refused_with_the_reason(runtime: Runtime) -> None:
    incident = report(runtime, priority="P1")
    with pytest.raises(Conflict, match="acknowledge the incident before pausing"):
        runtime.incidents.act(incident, "pause", actor="ann", reason="waiting")
    assert not incident_row(runtime, incident).paused


def test_reassign_only_to_someone_known(runtime: Runtime) -> None:
    incident = report(runtime, priority="P1")
    with pytest.raises(InvalidInput, match="nobody-such"):
        runtime.incidents.act(incident, "reassign", actor="ann", assignee="nobody-such")
    assert incident_row(runtime, incident).assignee is None


def test_reassign_pages_the_new_assignee(runtime: Runtime) -> None:
    incident = report(runtime, priority="P3")
    runtime.incidents.act(incident, "reassign", actor="ann", assignee="pay")
    assert pages(runtime)[-1] == ("person:payer",)
    assert event_data(runtime, incident, "incident.reassigned")[0]["paged"] == ["payer"]


def test_reopen_runs_the_clocks_again_and_needs_a_new_resolution(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident = report(runtime, priority="P1")
    runtime.incidents.act(incident, "ack", actor="ann")
    runtime.incidents.act(incident, "resolve", actor="ann", root_cause="c", solution="s")
    clock.advance(minutes=10)
    runtime.incidents.act(incident, "reopen", actor="ann", reason="still broken")
    row = incident_row(runtime, incident)
    assert (row.status, row.resolved_at, row.root_cause) == ("acknowledged", None, None)
    resolution = clock_row(runtime, incident, "resolution")
    assert resolution.stopped_at is None
    assert as_utc(resolution.due_at) == as_utc(row.created_at) + timedelta(hours=2)
    assert "follow_up" not in pending_kinds(runtime, incident)
    clock.advance(hours=3)
    run(runtime)
    breached = [d["sla"] for d in event_data(runtime, incident, "incident.sla_breached")]
    assert "resolution" in breached


def test_reopen_of_an_open_incident_is_refused(runtime: Runtime) -> None:
    with pytest.raises(Conflict, match="only a resolved one"):
        runtime.incidents.act(report(runtime, priority="P1"), "reopen", actor="ann")


def test_amend_the_resolution_of_an_auto_resolved_incident(runtime: Runtime) -> None:
    incident = report(runtime, priority="P1")
    runtime.incidents.act(incident, "resolve", actor=None)
    runtime.incidents.act(
        incident, "amend", actor="ann", root_cause="full disk", solution="grew it"
    )
    row = incident_row(runtime, incident)
    assert (row.status, row.root_cause, row.solution) == ("resolved", "full disk", "grew it")
    assert (
        event_data(runtime, incident, "incident.resolution_edited")[0]["previous_root_cause"]
        is None
    )


def test_amend_of_an_open_incident_is_refused(runtime: Runtime) -> None:
    with pytest.raises(Conflict, match="resolve it first"):
        runtime.incidents.act(
            report(runtime, priority="P1"), "amend", actor="ann", root_cause="c", solution="s"
        )
