from __future__ import annotations

from tests.bridge.helpers import FakeClock, make_runtime
from tocsin.bridge.incidents.serialize import incident_json


def test_pause_and_resume_accumulate_paused_time(sqlite_url: str) -> None:
    clock = FakeClock()
    runtime = make_runtime(sqlite_url, clock)
    incident_id = runtime.incidents.create(title="t", priority="P2", actor="a")
    runtime.incidents.act(incident_id, "ack", actor="a")
    runtime.incidents.act(incident_id, "pause", actor="a", reason="waiting on customer")
    clock.advance(600)
    event = runtime.incidents.act(incident_id, "resume", actor="a")
    assert event.data["paused_seconds"] == 600


def test_resume_records_its_reason_in_the_event(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url)
    incident_id = runtime.incidents.create(title="t", priority="P2", actor="a")
    runtime.incidents.act(incident_id, "ack", actor="a")
    runtime.incidents.act(incident_id, "pause", actor="a", reason="waiting on customer")
    event = runtime.incidents.act(incident_id, "resume", actor="a", reason="customer replied")
    assert event.data["reason"] == "customer replied"


def test_every_change_is_a_timeline_event_with_its_actor(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url)
    incident_id = runtime.incidents.create(title="t", priority="P2", actor="desk")
    runtime.incidents.act(incident_id, "reassign", actor="alice", assignee="backup")
    runtime.incidents.act(incident_id, "notes", actor="bob", text="looking")
    runtime.incidents.act(incident_id, "escalate", actor="bob", reason="need DBA")
    runtime.incidents.act(incident_id, "resolve", actor="bob", root_cause="c", solution="s")
    runtime.incidents.act(incident_id, "close", actor="desk", satisfaction=5)
    with runtime.store.connect() as conn:
        body = incident_json(conn, incident_id, runtime.clock())
    steps = [
        (e["kind"], e["actor"])
        for e in body["timeline"]
        if e["kind"] != "incident.escalated" or e["actor"]
    ]
    assert steps == [
        ("incident.triggered", "desk"),
        ("incident.reassigned", "alice"),
        ("incident.note_added", "bob"),
        ("incident.escalated", "bob"),
        ("incident.resolved", "bob"),
        ("incident.closed", "desk"),
    ]
    assert (body["assignee"], body["satisfaction"], body["escalation_level"] >= 1) == (
        "backup",
        5,
        True,
    )


def test_hooks_see_events_in_the_same_transaction(sqlite_url: str) -> None:
    runtime = make_runtime(sqlite_url)
    seen: list[str] = []
    runtime.hooks.append(lambda conn, event: seen.append(event.kind))
    runtime.incidents.create(title="t", priority="P3", actor="a")
    assert "incident.triggered" in seen
