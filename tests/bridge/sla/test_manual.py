from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.bridge import helpers
from tests.bridge.helpers import OPERATOR, FakeClock, bearer
from tests.bridge.sla.harness import START, incident_row, make_runtime, open_incident, pages, run
from tests.bridge.testclient import TestClient
from tocsin.bridge.errors import Conflict
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.server.app import create_app
from tocsin.bridge.store.schema import outbox, timers


def escalate(runtime: Runtime, incident: int, reason: str | None = "need help") -> dict:
    return dict(runtime.incidents.act(incident, "escalate", actor="ann", reason=reason).data)


def pending_steps(runtime: Runtime, incident: int, kind: str) -> list[tuple[int, object]]:
    with runtime.store.connect() as conn:
        rows = conn.execute(
            select(timers.c.payload, timers.c.due_at).where(
                timers.c.incident_id == incident,
                timers.c.kind == kind,
                timers.c.fired_at.is_(None),
                timers.c.cancelled.is_(False),
            )
        ).all()
    return [(int(r.payload["step"]), as_utc(r.due_at)) for r in rows]


def test_escalate_pages_the_next_response_step_now(runtime: Runtime, clock: FakeClock) -> None:
    incident = open_incident(runtime)
    run(runtime)  # step 0 pages the primary
    clock.advance(minutes=1)
    data = escalate(runtime, incident)
    assert pages(runtime) == [("person:primary",), ("person:backup",)]
    assert {k: data[k] for k in ("level", "path", "step", "targets", "reason")} == {
        "level": 1,
        "path": "response",
        "step": 1,
        "targets": ["person:backup"],
        "reason": "need help",
    }
    assert incident_row(runtime, incident).escalation_level == 1


def test_the_timed_step_pulled_forward_is_not_paged_again(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident = open_incident(runtime)
    run(runtime)
    clock.advance(minutes=1)
    escalate(runtime, incident)
    assert pending_steps(runtime, incident, "escalation") == [(2, START + timedelta(minutes=15))]
    clock.advance(minutes=5)
    run(runtime)
    assert pages(runtime) == [("person:primary",), ("person:backup",)]
    clock.advance(minutes=10)
    run(runtime)
    assert pages(runtime)[-1] == ("person:expert",)


def test_escalating_past_the_last_step_repeats_its_targets(runtime: Runtime) -> None:
    incident = open_incident(runtime)
    run(runtime)
    levels = [escalate(runtime, incident)["level"] for _ in range(3)]
    assert levels == [1, 2, 2]
    assert pages(runtime)[1:] == [("person:backup",), ("person:expert",), ("person:expert",)]


def test_after_ack_escalate_engages_the_expert_then_major(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident = open_incident(runtime)
    run(runtime)
    runtime.incidents.act(incident, "ack", actor="ann")
    expert = escalate(runtime, incident)
    major = escalate(runtime, incident)
    assert (expert["name"], expert["level"], major["name"], major["level"]) == (
        "expert",
        3,
        "major",
        4,
    )
    assert pages(runtime)[1:] == [("person:expert",), ("person:manager",)]
    assert incident_row(runtime, incident).major
    clock.advance(hours=4)
    run(runtime)  # the resolution steps already engaged do not page again
    assert len(pages(runtime)) == 3
    assert escalate(runtime, incident)["targets"] == ["person:manager"]  # the last level repeats


def test_acknowledged_p3_without_resolution_steps_repeats_the_last_response_step(
    runtime: Runtime,
) -> None:
    incident = open_incident(runtime, priority="P3")
    runtime.incidents.act(incident, "ack", actor="ann")
    assert escalate(runtime, incident)["targets"] == ["person:expert"]


def test_escalating_a_paused_incident_parks_the_next_step_with_its_time_left(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident = open_incident(runtime)
    run(runtime)
    clock.advance(minutes=1)
    runtime.incidents.act(incident, "ack", actor="ann")
    runtime.incidents.act(incident, "pause", actor="ann", reason="waiting on customer")
    clock.advance(minutes=30)
    escalate(runtime, incident)  # engages the experts now, pulled forward from 1 h
    runtime.incidents.act(incident, "resume", actor="ann")
    # the major level was due 3 h after opening: 2 h 59 min were left when it was paused
    assert pending_steps(runtime, incident, "resolution_step") == [
        (1, START + timedelta(minutes=31 + 179))
    ]


def test_escalating_a_resolved_incident_is_refused_and_pages_nobody(runtime: Runtime) -> None:
    incident = open_incident(runtime)
    run(runtime)
    runtime.incidents.act(incident, "resolve", actor="ann", root_cause="c", solution="s")
    with pytest.raises(Conflict):
        escalate(runtime, incident)
    assert pages(runtime) == [("person:primary",)]


def test_without_an_escalation_policy_only_the_level_rises(runtime: Runtime) -> None:
    incident = open_incident(runtime, escalation_policy=None)
    assert escalate(runtime, incident)["level"] == 1
    assert pages(runtime) == []


def test_escalate_reaching_nobody_records_the_unreached_targets(
    sqlite_url: str, clock: FakeClock
) -> None:
    runtime = make_runtime(sqlite_url, clock, policy=GAPS)
    incident = open_incident(runtime)
    data = escalate(runtime, incident)
    assert (data["targets"], data["unreached"]) == ([], ["schedule:orphan"])
    assert pages(runtime) == []
    runtime.store.dispose()


GAPS = """
priorities: {P1: {response: 15m}}
routes: [{priority: P1, escalation: ops}]
people: {ann: {}}
schedules:
  orphan:
    timezone: UTC
    rotation: {members: [ann], start: "2030-01-07T09:00", every: 1w}
escalation_policies:
  ops: {steps: [{after: 5m, notify: [schedule:orphan]}]}
"""

CHANNEL = """
priorities: {P1: {response: 15m}}
routes: [{priority: P1, escalation: ops}]
channels: {ops-chat: {type: webhook, url: "http://127.0.0.1:9/hook"}}
escalation_policies:
  ops: {steps: [{after: 5m, notify: [channel:ops-chat]}]}
"""


def test_the_api_escalate_writes_the_page_to_the_outbox_in_its_transaction(
    sqlite_url: str,
) -> None:
    built = helpers.make_runtime(sqlite_url, FakeClock(START), policy=CHANNEL, migrate=False)
    store = built.store
    headers = bearer(OPERATOR)
    with TestClient(create_app(built, start_workers=False)) as client:
        created = client.post(
            "/api/v1/incidents", json={"title": "t", "priority": "P1"}, headers=headers
        )
        incident = created.json()["id"]
        shown = client.post(f"/api/v1/incidents/{incident}/escalate", headers=headers).json()
    escalated = [e for e in shown["timeline"] if e["kind"] == "incident.escalated"]
    assert [(e["actor"], e["data"]["targets"]) for e in escalated] == [
        ("alice", ["channel:ops-chat"])
    ]
    with store.connect() as conn:
        queued = conn.execute(select(outbox.c.channel, outbox.c.event_id)).all()
    assert [tuple(r) for r in queued] == [("ops-chat", escalated[0]["id"])]
    store.dispose()
