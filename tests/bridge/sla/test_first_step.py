"""A first escalation step due at once pages in the transaction that opens its incident."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Connection, event, select

from tests.bridge import helpers
from tests.bridge.helpers import FakeClock
from tests.bridge.sla.harness import START, RecordingPager, event_data, event_kinds, pages, run
from tocsin.bridge.ingest.parse import parse_v2
from tocsin.bridge.ingest.service import ingest
from tocsin.bridge.platform.config import BridgeConfig
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import events, outbox, timers

POLICY = """
priorities:
  P1: {name: emergency, response: 15m, update: 2h, resolution: 2h}
routes:
  - {priority: P1, escalation: ops}
channels:
  feed: {type: webhook, url: "http://127.0.0.1:9/feed", events: [incident.triggered, incident.escalated]}
people:
  ann: {name: Ann, email: ann@example.com}
  bob: {name: Bob, email: bob@example.com}
escalation_policies:
  ops:
    steps:
      - {after: FIRST, notify: [person:ann]}
      - {after: 5m, notify: [person:bob]}
"""


@pytest.fixture
def build(database_url: str) -> Iterator[Callable[[str], Runtime]]:
    """Runtimes on the engine under test whose first step comes after the given duration."""
    made: list[Runtime] = []

    def make(first: str) -> Runtime:
        policy = POLICY.replace("FIRST", first)
        made.append(
            helpers.make_runtime(
                database_url,
                FakeClock(START),
                config=BridgeConfig(database_url=database_url),
                policy=policy,
                migrate=False,
            )
        )
        return made[-1]

    yield make
    for runtime in made:
        runtime.store.dispose()


def step_timers(runtime: Runtime) -> list[tuple[int, object]]:
    """Return every escalation timer ever written: (step, due time)."""
    with runtime.store.connect() as conn:
        query = select(timers.c.payload, timers.c.due_at).where(timers.c.kind == "escalation")
        return sorted((row.payload["step"], row.due_at) for row in conn.execute(query))


def queued(runtime: Runtime) -> list[tuple[str, str | None, str]]:
    """Return the outbox rows in the order they were written: channel, recipient, event kind."""
    with runtime.store.connect() as conn:
        query = (
            select(outbox.c.channel, outbox.c.recipient, events.c.kind)
            .join(events, events.c.id == outbox.c.event_id)
            .order_by(outbox.c.id)
        )
        return [tuple(row) for row in conn.execute(query)]


def test_an_immediate_first_step_pages_before_any_timer_runs(
    build: Callable[[str], Runtime],
) -> None:
    runtime = build("0m")
    incident = runtime.incidents.create(
        title="disk full", priority="P1", actor="desk", escalation_policy="ops"
    )
    assert event_kinds(runtime, incident) == ["incident.triggered", "incident.escalated"]
    assert event_data(runtime, incident, "incident.escalated") == [
        {"level": 0, "name": "response", "path": "response", "step": 0, "targets": ["person:ann"]}
    ]
    # In the order the scheduler queued them: the opening's notifications, then the step's.
    assert queued(runtime) == [
        ("feed", None, "incident.triggered"),
        ("feed", None, "incident.escalated"),
        ("mailto:ann@example.com", "ann", "incident.escalated"),
    ]
    assert [step for step, _ in step_timers(runtime)] == [1]  # no timer for step 0
    run(runtime)
    assert event_kinds(runtime, incident).count("incident.escalated") == 1


def test_a_later_first_step_still_waits_for_its_timer(build: Callable[[str], Runtime]) -> None:
    runtime = build("2m")
    incident = runtime.incidents.create(
        title="disk full", priority="P1", actor="desk", escalation_policy="ops"
    )
    assert event_kinds(runtime, incident) == ["incident.triggered"]
    assert [step for step, _ in step_timers(runtime)] == [0]
    assert isinstance(runtime.clock, FakeClock)
    runtime.clock.advance(minutes=2)
    run(runtime)
    assert event_data(runtime, incident, "incident.escalated")[0]["targets"] == ["person:ann"]


def test_a_batch_of_new_alerts_pages_every_incident_in_one_write_per_table(
    build: Callable[[str], Runtime],
) -> None:
    runtime = build("0m")
    body = [{"labels": {"alertname": "Disk", "instance": f"host-{n}"}} for n in range(20)]
    statements: list[str] = []
    event.listen(
        runtime.store.engine,
        "before_cursor_execute",
        lambda conn, cursor, sql, *args: statements.append(" ".join(sql.split()[:3])),
    )
    ingest(runtime, parse_v2(body, START, 1000).alerts, "v2")
    with runtime.store.connect() as conn:
        kinds = [row.kind for row in conn.execute(select(events.c.kind))]
    assert kinds.count("incident.escalated") == 20
    assert len(queued(runtime)) == 20 * 3  # feed triggered, page, feed escalated
    # Opening's own writes, plus the page's: its events once, no incident update (level 0).
    assert statements.count("INSERT INTO events") == 2
    # The feed's copies of triggered and of escalated, and the pages: a statement each.
    assert statements.count("INSERT INTO outbox") == 3
    assert not [s for s in statements if s.startswith("UPDATE incidents")]
    steps = step_timers(runtime)
    assert steps == [(1, steps[0][1])] * 20


class BrokenPager:
    """A pager whose every page fails, as a bug in rendering would."""

    def page(self, conn: Connection, **kwargs: object) -> None:
        raise RuntimeError("template exploded")


def test_a_failing_page_leaves_the_incident_stored_and_the_step_to_the_scheduler(
    build: Callable[[str], Runtime], caplog: pytest.LogCaptureFixture
) -> None:
    runtime = build("0m")
    runtime.pager = BrokenPager()
    body = [{"labels": {"alertname": "Disk", "instance": f"host-{n}"}} for n in range(3)]
    applied = ingest(runtime, parse_v2(body, START, 1000).alerts, "v2")
    assert (applied.accepted, applied.opened) == (3, 3)
    assert "paging the first step of 3 new incident(s) failed" in caplog.text
    with runtime.store.connect() as conn:
        kinds = [row.kind for row in conn.execute(select(events.c.kind))]
    assert sorted(kinds) == ["incident.triggered"] * 3  # the failed page's events rolled back
    assert [step for step, _ in step_timers(runtime)] == [0, 0, 0]
    runtime.pager = RecordingPager()
    run(runtime)
    assert pages(runtime) == [("person:ann",)] * 3
