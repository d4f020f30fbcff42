"""Escalation and resolution steps of many incidents fired in one batch leave the rows one by one would."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select, update

from tests.bridge import helpers
from tests.bridge.helpers import FakeClock
from tests.bridge.sla.harness import (
    RecordingPager,
    event_kinds,
    open_incident,
    pages,
    run,
    scheduler,
)
from tests.pg import create_database
from tocsin.bridge.platform.config import BridgeConfig
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import events, incidents, outbox, sla_clocks, timers

POLICY = """
priorities:
  P1: {name: emergency, response: 15m, update: 2h, resolution: 2h}
  P2: {name: important, response: 30m, resolution: 24h}
  P3: {name: general, response: 8h}
routes:
  - {priority: P1, escalation: ops}
channels:
  audit: {type: webhook, url: "http://127.0.0.1:9/audit", events: [incident.escalated]}
  ann-chat: {type: webhook, url: "http://127.0.0.1:9/ann"}
people:
  ann: {name: Ann, email: ann@example.com, channels: [ann-chat]}
  bob: {name: Bob, email: bob@example.com}
  cid: {name: Cid}
schedules:
  primary:
    timezone: UTC
    rotation: {members: [ann], start: "2026-01-05T09:00", every: 1w}
  nobody:
    timezone: UTC
    rotation: {members: [cid], start: "2027-01-04T09:00", every: 1w}
teams:
  experts: {members: [bob]}
escalation_policies:
  ops:
    steps:
      - {after: 0m, notify: [schedule:primary, schedule:nobody]}
      - {after: 5m, notify: [person:bob]}
      - {after: 15m, notify: [team:experts, channel:ann-chat]}
    repeat: 15m
    resolution:
      - {after: 1h, level: expert, notify: [team:experts], priorities: [P1, P2]}
      - {after: 3h, level: major, major: true, notify: [person:ann], priorities: [P1]}
"""


@pytest.fixture
def twin_urls(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> list[str]:
    """Two fresh databases on the engine under test."""
    if database_url.startswith("sqlite"):
        return [database_url, f"sqlite:///{tmp_path / 'twin.db'}"]
    return [database_url, create_database(request.getfixturevalue("postgres_server"))]


@pytest.fixture
def build() -> Iterator[Callable[[str, FakeClock], Runtime]]:
    made: list[Runtime] = []

    def make(url: str, clock: FakeClock) -> Runtime:
        made.append(
            helpers.make_runtime(
                url, clock, config=BridgeConfig(database_url=url), policy=POLICY, migrate=False
            )
        )
        return made[-1]

    yield make
    for runtime in made:
        runtime.store.dispose()


def story(runtime: Runtime, clock: FakeClock, chunk: int) -> dict[str, list[Any]]:
    """Open incidents a second apart, act on some, and fire every timer; return the rows."""
    scheduler(runtime).chunk = chunk
    opened = []
    for n in range(14):  # the last five have no escalation policy: only their clocks' timers
        policy = "ops" if n < 9 else None
        opened.append(open_incident(runtime, ("P1", "P2", "P3")[n % 3], escalation_policy=policy))
        clock.advance(seconds=1)
    # An odd clock state no action leads to, a branch the batched warning must keep.
    odd(runtime, opened[12], breach_reason="x")
    runtime.incidents.act(opened[1], "ack", actor="ann")  # before the batch: never paged
    run(runtime)
    # Step 1 at 5 min, P1 warnings at 10, breaches and step 2 at 15, resolution steps at 1 h, 3 h.
    for minutes, index, act in (
        (5, 3, "ack"),
        (6, 9, "exempt"),
        (6, 3, "pause"),
        (60, 6, "resolve"),
        (180, 0, ""),
    ):
        clock.advance(minutes=minutes)
        run(runtime)
        if act == "exempt":  # after its warning, which clears an exemption
            odd(runtime, opened[index], breach_exempt=True)
        elif act:
            runtime.incidents.act(opened[index], act, actor="ann")
    return rows(runtime)


def odd(runtime: Runtime, incident_id: int, **values: Any) -> None:
    """Set columns of an incident's response clock directly."""
    with runtime.store.begin() as conn:
        conn.execute(
            update(sla_clocks)
            .where(sla_clocks.c.incident_id == incident_id, sla_clocks.c.clock == "response")
            .values(**values)
        )


def rows(runtime: Runtime) -> dict[str, list[Any]]:
    """Return what firing writes: events, incidents' levels, timers, outbox rows (by content)."""
    with runtime.store.connect() as conn:
        timeline = select(
            events.c.id, events.c.incident_id, events.c.kind, events.c.occurred_at, events.c.data
        ).order_by(events.c.id)
        levels = select(
            incidents.c.id,
            incidents.c.status,
            incidents.c.escalation_level,
            incidents.c.major,
            incidents.c.updated_at,
        ).order_by(incidents.c.id)
        due = select(
            timers.c.id,
            timers.c.kind,
            timers.c.incident_id,
            timers.c.subject,
            timers.c.due_at,
            timers.c.payload,
            timers.c.created_at,
            timers.c.fired_at,
            timers.c.cancelled,
            timers.c.lag_seconds,
        ).order_by(timers.c.id)
        queued = select(
            outbox.c.event_id,
            outbox.c.incident_id,
            outbox.c.channel,
            outbox.c.recipient,
            outbox.c.payload,
            outbox.c.next_attempt_at,
        )
        promises = select(sla_clocks).order_by(sla_clocks.c.incident_id, sla_clocks.c.clock)
        keys = {str(row.key): f"key-{row.id}" for row in conn.execute(select(incidents))}
        return {
            "events": [tuple(row) for row in conn.execute(timeline)],
            "incidents": [tuple(row) for row in conn.execute(levels)],
            "timers": [tuple(row) for row in conn.execute(due)],
            "clocks": [tuple(row) for row in conn.execute(promises)],
            "outbox": sorted(
                (*row[:4], _unkeyed(json.dumps(row[4], sort_keys=True), keys), row[5])
                for row in conn.execute(queued)
            ),
        }


def _unkeyed(text: str, keys: dict[str, str]) -> str:
    """Return the text with incident keys (random for manual incidents) named by incident id."""
    for key, name in keys.items():
        text = text.replace(key, name)
    return text


def test_steps_fired_together_leave_the_rows_firing_one_by_one_leaves(
    twin_urls: list[str], build: Callable[[str, FakeClock], Runtime]
) -> None:
    together = story(build(twin_urls[0], clock := FakeClock()), clock, chunk=50)
    one_by_one = story(build(twin_urls[1], clock := FakeClock()), clock, chunk=1)
    assert together == one_by_one
    escalated = [row[4] for row in together["events"] if row[2] == "incident.escalated"]
    assert any("late_seconds" in data for data in escalated)
    assert any(data.get("unreached") == ["schedule:nobody"] for data in escalated)
    assert {data["name"] for data in escalated} == {"response", "expert", "major"}
    assert any(row[3] for row in together["incidents"])  # one went major
    kinds = {row[2] for row in together["events"]}
    assert {"incident.sla_warning", "incident.sla_breached"} <= kinds
    assert {row[2] for row in together["outbox"]} == {"audit", "ann-chat", "mailto:ann@example.com",
                                                      "mailto:bob@example.com"}  # fmt: skip


@pytest.mark.parametrize(
    ("policy", "before", "after", "written"),
    [
        ("ops", 0, 5, ["INSERT INTO events", "INSERT INTO timers", "UPDATE incidents SET"]),
        (None, 0, 11, ["INSERT INTO events", "UPDATE sla_clocks SET", "INSERT INTO timers"]),
        (None, 11, 5, ["INSERT INTO events", "UPDATE sla_clocks SET"]),  # breaches
    ],
)
def test_due_timers_of_many_incidents_cost_one_write_per_table(
    database_url: str,
    build: Callable[[str, FakeClock], Runtime],
    policy: str | None,
    before: float,
    after: float,
    written: list[str],
) -> None:
    runtime = build(database_url, clock := FakeClock())
    scheduler(runtime).chunk = 50
    for _ in range(20):
        open_incident(runtime, escalation_policy=policy)
    if before:  # fire what falls due earlier first
        clock.advance(minutes=before)
        run(runtime)
    clock.advance(minutes=after)
    statements: list[str] = []
    event.listen(
        runtime.store.engine,
        "before_cursor_execute",
        lambda conn, cursor, sql, *args: statements.append(" ".join(sql.split()[:3])),
    )
    assert scheduler(runtime).run_once() == 20
    # Outbox rows (the notifier's, one per recipient) aside, every table takes one write.
    writes = [s for s in statements if s.startswith(("INSERT", "UPDATE")) and "outbox" not in s]
    assert sorted(writes) == sorted([*written, "UPDATE timers SET", "UPDATE timers SET"])


def test_an_incident_acknowledged_before_the_batch_fires_is_not_paged(
    database_url: str, build: Callable[[str, FakeClock], Runtime]
) -> None:
    runtime = build(database_url, clock := FakeClock())
    runtime.pager = RecordingPager()
    opened = [open_incident(runtime) for _ in range(4)]  # each pages its first step at once
    runtime.incidents.act(opened[2], "ack", actor="ann")
    clock.advance(minutes=5)
    run(runtime)
    assert pages(runtime) == [("person:ann",)] * 4 + [("person:bob",)] * 3
    assert event_kinds(runtime, opened[2]).count("incident.escalated") == 1
