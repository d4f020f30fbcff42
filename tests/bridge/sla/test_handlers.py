from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.bridge.helpers import FakeClock
from tests.bridge.sla.harness import (
    START,
    clock_row,
    event_data,
    make_runtime,
    open_incident,
    pages,
    run,
)
from tocsin.bridge.reports.breaches import record_reason
from tocsin.bridge.reports.query import load_report
from tocsin.bridge.runtime import Runtime

GAPS = """
priorities: {P1: {response: 15m}}
routes: [{priority: P1, escalation: ops}]
people: {ann: {email: a@x.org}, bob: {email: b@x.org}, cid: {email: c@x.org}, dan: {}}
channels: {desk: {type: log}}
schedules:
  later:
    timezone: UTC
    rotation: {members: [ann], start: "2027-01-04T09:00", every: 1w}
  orphan:
    timezone: UTC
    rotation: {members: [ann], start: "2027-01-04T09:00", every: 1w}
teams:
  night: {members: [bob, cid], schedule: later}
escalation_policies:
  ops:
    steps:
      - {after: 0m, notify: [schedule:later]}
      - {after: 5m, notify: [schedule:orphan]}
      - {after: 10m, notify: [person:dan], fallback: [channel:desk]}
"""


@pytest.fixture
def runtime(sqlite_url: str, clock: FakeClock) -> Iterator[Runtime]:
    built = make_runtime(sqlite_url, clock, policy=GAPS)
    yield built
    built.store.dispose()


def test_a_schedule_with_nobody_on_call_pages_the_team_using_it(runtime: Runtime) -> None:
    incident = open_incident(runtime)
    run(runtime)
    assert pages(runtime) == [("person:bob", "person:cid")]
    assert "unreached" not in event_data(runtime, incident, "incident.escalated")[0]


def test_a_step_reaching_nobody_is_recorded_as_unreached_and_logged(
    runtime: Runtime, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    incident = open_incident(runtime)
    run(runtime)
    clock.advance(minutes=5)
    with caplog.at_level(logging.WARNING, logger="tocsin.bridge.sla.handlers"):
        run(runtime)
    step = event_data(runtime, incident, "incident.escalated")[1]
    assert (step["targets"], step["unreached"]) == ([], ["schedule:orphan"])
    assert step["unreached_reason"] == (
        "schedule:orphan: nobody is on call and no team with members uses the schedule"
    )
    assert len(pages(runtime)) == 1  # nobody to page for the second step
    assert "step 1 reached nobody for schedule:orphan: nobody is on call" in caplog.text
    assert (
        runtime.metrics.registry.get_sample_value(
            "tocsin_bridge_pages_unreached_total", {"priority": "P1"}
        )
        == 1
    )


def test_a_person_without_an_address_is_unreached_and_the_fallback_paged(
    runtime: Runtime, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    incident = open_incident(runtime)
    for _ in range(3):
        run(runtime)
        clock.advance(minutes=5)
    with caplog.at_level(logging.WARNING, logger="tocsin.bridge.sla.handlers"):
        run(runtime)
    step = event_data(runtime, incident, "incident.escalated")[2]
    assert step["unreached"] == ["person:dan"]
    assert step["unreached_reason"] == "person:dan: has no email and no chat channel"
    assert (step["targets"], step["fallback"]) == (["channel:desk"], ["channel:desk"])
    assert pages(runtime)[-1] == ("channel:desk",)
    assert "paged channel:desk (the step's fallback)" in caplog.text


def test_a_note_starts_a_cycle_without_the_previous_breach_reason(
    sqlite_url: str, clock: FakeClock
) -> None:
    runtime = make_runtime(sqlite_url, clock)  # bundled policy: P1 updates every 2 h
    incident = open_incident(runtime)
    runtime.incidents.act(incident, "ack", actor="ann")
    clock.advance(hours=2)
    run(runtime)
    with runtime.store.begin() as conn:
        record_reason(conn, incident, "update", reason="customer away", exempt=True)
    clock.advance(minutes=1)
    runtime.incidents.act(incident, "notes", actor="ann", text="still on it", public=True)
    row = clock_row(runtime, incident, "update")
    assert (row.breached_at, row.breach_reason, row.breach_exempt) == (None, None, False)
    clock.advance(hours=2)
    run(runtime)  # the new cycle's breach is recorded, not taken as exempt
    breaches = [d["sla"] for d in event_data(runtime, incident, "incident.sla_breached")]
    assert breaches.count("update") == 2
    with runtime.store.connect() as conn:
        report = load_report(
            conn, runtime.policy, since=START, until=clock.now, now=clock.now, priority="P1"
        )
    assert [b.clock for b in report.breaches].count("update") == 2  # both cycles, from the timeline
    runtime.store.dispose()


def test_the_bundled_policy_pages_the_on_call_with_warnings_and_breaches(
    sqlite_url: str, clock: FakeClock
) -> None:
    runtime = make_runtime(sqlite_url, clock)
    incident = open_incident(runtime)
    run(runtime)
    runtime.incidents.act(incident, "ack", actor="backup")
    clock.advance(hours=1, minutes=21)  # past 2/3 of the 2 h update clock
    run(runtime)
    warnings = event_data(runtime, incident, "incident.sla_warning")
    assert {w["sla"] for w in warnings} == {"update", "resolution"}
    assert all(w["targets"] == ["person:backup", "person:primary"] for w in warnings)
    assert pages(runtime, "incident.sla_warning") == [("person:backup", "person:primary")] * 2
    runtime.store.dispose()


def test_sla_notify_names_roles_and_targets(sqlite_url: str, clock: FakeClock) -> None:
    runtime = make_runtime(sqlite_url, clock, policy=AUDIENCE)
    incident = open_incident(runtime, assignee="cid")
    clock.advance(minutes=11)
    run(runtime)
    (warning,) = event_data(runtime, incident, "incident.sla_warning")
    assert warning["targets"] == ["person:cid", "person:ann", "channel:desk"]
    clock.advance(minutes=5)
    run(runtime)
    (breach,) = event_data(runtime, incident, "incident.sla_breached")
    assert breach["targets"] == ["person:bob"]
    runtime.store.dispose()


AUDIENCE = """
priorities: {P1: {response: 15m, warn_at: 0.67}}
routes: [{priority: P1, escalation: ops}]
channels: {desk: {type: log}}
people: {ann: {email: a@x.org}, bob: {email: b@x.org}, cid: {email: c@x.org}}
teams: {leads: {members: [bob]}}
escalation_policies:
  ops:
    steps:
      - {after: 0m, notify: [person:ann]}
    sla_notify:
      sla_warning: [assignee, acknowledger, step, channel:desk]
      sla_breached: [team:leads]
"""


def test_steps_missed_while_down_collapse_into_one_page_at_the_step_due_now(
    sqlite_url: str, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    runtime = make_runtime(sqlite_url, clock)  # bundled: steps at 0m, 5m, 15m, then every 15m
    incident = open_incident(runtime)
    run(runtime)
    clock.advance(minutes=16)  # down while the 5m and 15m steps fell due
    with caplog.at_level(logging.WARNING, logger="tocsin.bridge.sla.handlers"):
        run(runtime)
    assert pages(runtime) == [("person:primary",), ("person:expert",)]
    late = event_data(runtime, incident, "incident.escalated")[1]
    assert (late["step"], late["skipped_steps"], late["late_seconds"]) == (2, [1], 660.0)
    assert "response steps [1] fell due while the bridge was down (660s late)" in caplog.text
    assert (
        runtime.metrics.registry.get_sample_value(
            "tocsin_bridge_escalation_steps_skipped_total", {"priority": "P1"}
        )
        == 1
    )
    runtime.store.dispose()
