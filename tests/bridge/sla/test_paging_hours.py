"""Paging hours: a P3 under the bundled policy pages only in business hours; P1 and P2 at any hour."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.bridge.sla import harness
from tests.bridge.sla.harness import FakeClock, make_runtime, open_incident, pages, run
from tocsin.bridge.policy import parse_policy
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.sla.paging_hours import paging_resumes

SHANGHAI = ZoneInfo("Asia/Shanghai")
SUNDAY_NIGHT = datetime(2026, 3, 8, 22, tzinfo=SHANGHAI)
MONDAY_9 = datetime(2026, 3, 9, 9, tzinfo=SHANGHAI)
PRIMARY, BACKUP = ("person:primary",), ("person:backup",)  # whom the schedules have on call


@pytest.fixture(autouse=True)
def sunday_night(clock: FakeClock) -> None:
    """Start every test at 22:00 on a Sunday in Shanghai (the sla conftest's clock and runtime)."""
    clock.now = SUNDAY_NIGHT.astimezone(UTC)


def advance_to(runtime: Runtime, clock: FakeClock, when: datetime) -> None:
    """Move the clock to `when` in steps of a minute, firing due timers on the way."""
    while clock.now < when:
        clock.advance(minutes=1)
        run(runtime)


def test_p3_on_a_sunday_night_waits_for_monday_morning(runtime: Runtime, clock: FakeClock) -> None:
    incident = open_incident(runtime, "P3")
    run(runtime)
    assert pages(runtime) == []
    advance_to(runtime, clock, MONDAY_9.replace(hour=8, minute=59))
    assert pages(runtime) == []  # nobody woken overnight, no repeats every 15 minutes
    advance_to(runtime, clock, MONDAY_9.replace(minute=5))
    assert pages(runtime) == [PRIMARY, BACKUP]  # the steps keep their spacing from 09:00
    assert harness.incident_row(runtime, incident).status == "triggered"


@pytest.mark.parametrize("priority", ["P1", "P2"])
def test_p1_and_p2_page_around_the_clock(runtime: Runtime, clock: FakeClock, priority: str) -> None:
    open_incident(runtime, priority)
    run(runtime)
    assert pages(runtime) == [PRIMARY]
    advance_to(runtime, clock, SUNDAY_NIGHT.replace(minute=5))
    assert pages(runtime) == [PRIMARY, BACKUP]


def test_paging_resumes_is_shown_while_the_hours_are_over(runtime: Runtime) -> None:
    policy = runtime.policy
    row = {"escalation_policy": "ops", "priority": "P3", "status": "triggered", "paused": False}
    assert paging_resumes(policy, row, SUNDAY_NIGHT) == MONDAY_9
    assert paging_resumes(policy, row, MONDAY_9) is None
    assert paging_resumes(policy, {**row, "priority": "P2"}, SUNDAY_NIGHT) is None
    assert paging_resumes(policy, {**row, "status": "acknowledged"}, SUNDAY_NIGHT) is None


STEP_CALENDAR = """
calendars:
  office: {timezone: Asia/Shanghai, hours: ["09:00-18:00"]}
priorities:
  P1: {response: 15m}
  P3: {response: 8h, calendar: office}
people: {ann: {email: ann@example.com}, bob: {email: bob@example.com}}
escalation_policies:
  ops:
    steps:
      - {after: 0m, notify: ["person:ann"]}
      - {after: 5m, notify: ["person:bob"], calendar: office}
routes: [{priority: P3, escalation: ops}]
"""


def test_a_step_can_follow_a_calendar_of_its_own(sqlite_url: str, clock: FakeClock) -> None:
    runtime = make_runtime(sqlite_url, clock, STEP_CALENDAR)
    open_incident(runtime, "P3")
    advance_to(runtime, clock, SUNDAY_NIGHT.replace(minute=30))
    assert pages(runtime) == [("person:ann",)]
    advance_to(runtime, clock, MONDAY_9.replace(minute=5))
    assert pages(runtime) == [("person:ann",), ("person:bob",)]
    runtime.store.dispose()


def test_the_most_urgent_priority_always_pages(sqlite_url: str, clock: FakeClock) -> None:
    text = STEP_CALENDAR.replace("    steps:", "    calendar: office\n    steps:")
    runtime = make_runtime(sqlite_url, clock, text)
    open_incident(runtime, "P1")
    run(runtime)
    assert pages(runtime) == [("person:ann",)]
    runtime.store.dispose()


def test_unknown_paging_calendar_or_priority_is_refused() -> None:
    with pytest.raises(Exception, match="escalation_policies.ops.calendar: unknown calendar 'x'"):
        parse_policy(STEP_CALENDAR.replace("    steps:", "    calendar: x\n    steps:"))
    with pytest.raises(Exception, match="around_the_clock: unknown priority 'P9'"):
        parse_policy(STEP_CALENDAR.replace("    steps:", "    around_the_clock: [P9]\n    steps:"))
