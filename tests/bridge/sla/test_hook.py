from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.bridge.helpers import FakeClock
from tests.bridge.sla.harness import (
    START,
    clock_row,
    event_data,
    event_kinds,
    incident_row,
    open_incident,
    pages,
    pending_kinds,
    run,
)
from tocsin.bridge.incidents.service import create_incidents
from tocsin.bridge.platform.clock import as_utc
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import sla_clocks, timers


def test_triggered_starts_a_clock_per_target(runtime: Runtime) -> None:
    incident = open_incident(runtime)
    due = {
        n: as_utc(clock_row(runtime, incident, n).due_at)
        for n in ("response", "update", "resolution")
    }
    assert due == {
        "response": START + timedelta(minutes=15),
        "update": START + timedelta(hours=2),
        "resolution": START + timedelta(hours=2),
    }


def test_triggered_schedules_each_clock_s_warning_and_both_escalation_paths(
    runtime: Runtime,
) -> None:
    incident = open_incident(runtime)  # step 0 paged at once: step 1's timer waits
    assert sorted(pending_kinds(runtime, incident)) == sorted(
        ["escalation", "resolution_step"] + ["sla_warning"] * 3
    )


def test_a_fired_warning_schedules_its_clock_s_breach(runtime: Runtime, clock: FakeClock) -> None:
    incident = open_incident(runtime)
    clock.advance(minutes=10, seconds=3)  # past the response warning (67 % of 15 min)
    run(runtime)
    with runtime.store.connect() as conn:
        query = select(timers.c.kind, timers.c.due_at).where(
            timers.c.incident_id == incident,
            timers.c.subject == "response",
            timers.c.kind.in_(["sla_warning", "sla_breach"]),
            timers.c.fired_at.is_(None),
        )
        assert [(k, as_utc(d)) for k, d in conn.execute(query)] == [
            ("sla_breach", START + timedelta(minutes=15))
        ]


def test_after_an_outage_an_overdue_warning_and_breach_each_fire_once(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident = open_incident(runtime)
    clock.advance(hours=1)
    run(runtime)
    kinds = event_kinds(runtime, incident)
    assert kinds.count("incident.sla_warning") == 1
    assert [d["sla"] for d in event_data(runtime, incident, "incident.sla_breached")] == [
        "response"
    ]


def test_p3_clock_counts_business_hours(runtime: Runtime, clock: FakeClock) -> None:
    clock.now = datetime(2026, 3, 6, 9, tzinfo=UTC)  # Friday 17:00 Shanghai
    incident = open_incident(runtime, priority="P3")
    assert as_utc(clock_row(runtime, incident, "response").due_at) == datetime(
        2026, 3, 9, 9, tzinfo=UTC
    )


def test_first_step_pages_the_primary_on_call_at_once(runtime: Runtime) -> None:
    incident = open_incident(runtime)
    run(runtime)
    assert pages(runtime) == [("person:primary",)]
    assert event_data(runtime, incident, "incident.escalated")[0]["targets"] == ["person:primary"]


def test_unacknowledged_incident_escalates_step_by_step_then_repeats(
    runtime: Runtime, clock: FakeClock
) -> None:
    open_incident(runtime)
    for minutes in (0, 5, 10, 15):
        clock.advance(minutes=minutes)
        run(runtime)
    assert pages(runtime) == [
        ("person:primary",),
        ("person:backup",),
        ("person:expert",),
        ("person:expert",),  # 30 min: the last step repeats every 15 min
    ]


def test_ack_stops_the_response_clock_and_the_response_path(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident = open_incident(runtime)
    run(runtime)
    clock.advance(minutes=4)
    runtime.incidents.act(incident, "ack", actor="ann")
    clock.advance(hours=1)
    run(runtime)
    assert as_utc(clock_row(runtime, incident, "response").stopped_at) == START + timedelta(
        minutes=4
    )
    assert "incident.escalated" not in event_kinds(runtime, incident)[2:3]
    assert pages(runtime)[1:] == [("person:expert",)]  # only the resolution path remains


def test_warning_then_breach_of_the_response_clock(runtime: Runtime, clock: FakeClock) -> None:
    incident = open_incident(runtime)
    clock.advance(minutes=11)
    run(runtime)
    clock.advance(minutes=4)
    run(runtime)
    assert event_data(runtime, incident, "incident.sla_warning")[0]["sla"] == "response"
    assert event_data(runtime, incident, "incident.sla_breached")[0]["sla"] == "response"
    assert clock_row(runtime, incident, "response").breached_at is not None


def test_breach_is_counted_once_by_priority_and_clock(runtime: Runtime, clock: FakeClock) -> None:
    open_incident(runtime)
    clock.advance(minutes=16)
    run(runtime)
    text = runtime.metrics.exposition().decode()
    assert (
        'tocsin_bridge_sla_clocks_total{clock="response",outcome="breached",priority="P1"} 1.0'
        in text
    )


def test_a_public_note_restarts_the_update_clock(runtime: Runtime, clock: FakeClock) -> None:
    incident = open_incident(runtime)
    clock.advance(minutes=90)
    runtime.incidents.act(incident, "notes", actor="ann", text="rebooting the db", public=True)
    clock.advance(minutes=40)
    run(runtime)
    assert as_utc(clock_row(runtime, incident, "update").due_at) == START + timedelta(minutes=210)
    breached = [d["sla"] for d in event_data(runtime, incident, "incident.sla_breached")]
    assert "update" not in breached


def test_an_internal_note_is_no_update(runtime: Runtime, clock: FakeClock) -> None:
    incident = open_incident(runtime)
    clock.advance(minutes=90)
    runtime.incidents.act(incident, "notes", actor="ann", text="db log shows OOM")
    clock.advance(minutes=40)
    run(runtime)
    assert as_utc(clock_row(runtime, incident, "update").due_at) == START + timedelta(hours=2)
    breached = [d["sla"] for d in event_data(runtime, incident, "incident.sla_breached")]
    assert "update" in breached


def test_a_reply_from_the_reporter_is_no_update(runtime: Runtime, clock: FakeClock) -> None:
    incident = open_incident(runtime)
    clock.advance(minutes=90)
    runtime.incidents.act(incident, "notes", actor=None, text="any news?", from_reporter=True)
    assert as_utc(clock_row(runtime, incident, "update").due_at) == START + timedelta(hours=2)


def test_pause_holds_every_clock_and_resume_keeps_the_time_left(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident = open_incident(runtime)
    run(runtime)
    clock.advance(minutes=5)
    runtime.incidents.act(incident, "ack", actor="ann")
    runtime.incidents.act(incident, "pause", actor="ann", reason="waiting on the reporter")
    clock.advance(hours=5)
    run(runtime)
    assert pages(runtime) == [("person:primary",)]  # no resolution step while paused
    assert event_data(runtime, incident, "incident.sla_breached") == []
    runtime.incidents.act(incident, "resume", actor="ann")
    assert as_utc(clock_row(runtime, incident, "resolution").due_at) == clock.now + timedelta(
        minutes=115
    )
    clock.advance(minutes=55)
    run(runtime)
    assert pages(runtime) == [("person:primary",), ("person:expert",)]


def test_resolve_stops_every_clock_and_schedules_the_follow_up(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident = open_incident(runtime)
    runtime.incidents.act(incident, "resolve", actor="ann", root_cause="disk", solution="cleaned")
    assert pending_kinds(runtime, incident) == ["follow_up"]
    assert clock_row(runtime, incident, "resolution").stopped_at is not None


def test_follow_up_falls_due_on_the_second_working_day(runtime: Runtime, clock: FakeClock) -> None:
    incident = open_incident(runtime)
    runtime.incidents.act(incident, "resolve", actor="ann")
    clock.now = datetime(2026, 3, 4, 0, 59, tzinfo=UTC)  # Wednesday 08:59 Shanghai
    run(runtime)
    assert "incident.follow_up_due" not in event_kinds(runtime, incident)
    clock.advance(minutes=1)
    run(runtime)
    assert event_kinds(runtime, incident)[-1] == "incident.follow_up_due"


def test_close_cancels_the_follow_up(runtime: Runtime) -> None:
    incident = open_incident(runtime)
    runtime.incidents.act(incident, "resolve", actor="ann")
    runtime.incidents.act(incident, "close", actor="ann", satisfaction=5)
    assert pending_kinds(runtime, incident) == []


def test_unresolved_p1_engages_the_expert_then_becomes_major(
    runtime: Runtime, clock: FakeClock
) -> None:
    incident = open_incident(runtime)
    run(runtime)
    runtime.incidents.act(incident, "ack", actor="ann")
    clock.advance(hours=1)
    run(runtime)
    clock.advance(hours=2)
    run(runtime)
    levels = [d["name"] for d in event_data(runtime, incident, "incident.escalated")]
    assert levels == ["response", "expert", "major"]
    assert pages(runtime)[-1] == ("person:manager",)
    row = incident_row(runtime, incident)
    assert (bool(row.major), row.escalation_level) == (True, 4)


def test_p3_has_no_resolution_path(runtime: Runtime, clock: FakeClock) -> None:
    incident = open_incident(runtime, priority="P3")
    assert "resolution_step" not in pending_kinds(runtime, incident)


def test_timer_overdue_at_start_up_fires_marked_late(runtime: Runtime, clock: FakeClock) -> None:
    incident = open_incident(runtime)
    clock.advance(minutes=30)
    from tests.bridge.sla.harness import scheduler

    scheduler(runtime).started_at = clock.now
    run(runtime)
    breach = event_data(runtime, incident, "incident.sla_breached")[0]
    assert breach["late_seconds"] == 15 * 60


def _clocks_and_timers(runtime: Runtime, incident_id: int) -> tuple[list[Any], list[Any]]:
    with runtime.store.connect() as conn:
        clock_rows = conn.execute(
            select(sla_clocks)
            .where(sla_clocks.c.incident_id == incident_id)
            .order_by(sla_clocks.c.clock)
        ).all()
        timer_rows = conn.execute(
            select(timers.c.kind, timers.c.subject, timers.c.due_at, timers.c.payload)
            .where(timers.c.incident_id == incident_id)
            .order_by(timers.c.id)
        ).all()
    return [tuple(row)[1:] for row in clock_rows], [tuple(row) for row in timer_rows]


@pytest.mark.parametrize("priority", ["P1", "P3"])
def test_incidents_opened_in_a_batch_get_the_clocks_and_timers_of_one_opened_alone(
    runtime: Runtime, priority: str
) -> None:
    alone = open_incident(runtime, priority=priority)
    with runtime.store.begin() as conn:
        batch = create_incidents(
            conn,
            runtime.hooks,
            now=runtime.clock(),
            source="alert",
            specs=[
                {
                    "key": f"k{n}",
                    "title": "t",
                    "priority": priority,
                    "labels": {},
                    "annotations": {},
                    "escalation_policy": "ops",
                }
                for n in range(3)
            ],
        )
    expected = _clocks_and_timers(runtime, alone)
    assert expected[0] and expected[1]
    assert [_clocks_and_timers(runtime, n) for n in batch] == [expected] * 3
