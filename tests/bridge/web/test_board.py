from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert

from tests.bridge.helpers import T0, make_runtime
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import sla_clocks
from tocsin.bridge.web.board import (
    BoardFilter,
    BoardRow,
    Deadline,
    board_order,
    load_board,
    next_deadline,
)


def deadline(minutes: float | None, clock: str = "response", **extra: object) -> Deadline:
    due = T0 + timedelta(minutes=minutes) if minutes is not None else None
    return Deadline(
        clock=clock,
        due_at=due,
        warn_at=extra.get("warn_at"),  # type: ignore[arg-type]
        remaining_seconds=extra.get("remaining_seconds"),  # type: ignore[arg-type]
        breached=bool(extra.get("breached", False)),
    )


def row(id: int, priority: str, minutes: float | None) -> BoardRow:
    return BoardRow(
        id=id,
        title=f"incident {id}",
        priority=priority,
        status="triggered",
        paused=False,
        host=None,
        team=None,
        assignee=None,
        created_at=T0 - timedelta(minutes=id),
        deadline=deadline(minutes) if minutes is not None else None,
    )


def test_board_orders_by_priority_then_time_left() -> None:
    rows = [
        row(1, "P3", 5),
        row(2, "P1", 30),
        row(3, "P2", 1),
        row(4, "P1", 10),
        row(5, "P1", None),
    ]
    ordered = board_order(rows, ["P1", "P2", "P3"], T0)
    assert [r.id for r in ordered] == [4, 2, 5, 3, 1]


def test_next_deadline_counts_paused_clocks_by_what_they_have_left() -> None:
    paused = deadline(None, "resolution", remaining_seconds=60.0)
    running = deadline(10, "update")
    assert next_deadline([running, paused], T0) == paused


def test_deadline_turns_amber_at_warning_and_red_at_breach() -> None:
    clock = deadline(15, warn_at=T0 + timedelta(minutes=10))
    assert clock.state(T0) == "ok"
    assert clock.state(T0 + timedelta(minutes=10)) == "warning"
    assert clock.state(T0 + timedelta(minutes=15)) == "breached"


def add_clock(runtime: Runtime, incident_id: int, clock: str, due: datetime) -> None:
    with runtime.store.begin() as conn:
        conn.execute(
            delete(sla_clocks).where(
                sla_clocks.c.incident_id == incident_id, sla_clocks.c.clock == clock
            )
        )
        conn.execute(
            insert(sla_clocks).values(
                incident_id=incident_id,
                clock=clock,
                target_seconds=900,
                started_at=T0,
                due_at=due,
                warn_at=due - timedelta(minutes=5),
            )
        )


def test_load_board_reads_open_incidents_with_their_first_deadline(database_url: str) -> None:
    runtime = make_runtime(database_url)
    slow = runtime.incidents.create(title="slow", priority="P1", actor=None)
    urgent = runtime.incidents.create(title="urgent", priority="P1", actor=None, team="db")
    done = runtime.incidents.create(title="done", priority="P1", actor=None)
    runtime.incidents.act(done, "resolve", actor="alice", root_cause="x", solution="y")
    add_clock(runtime, slow, "response", T0 + timedelta(minutes=30))
    add_clock(runtime, urgent, "response", T0 + timedelta(minutes=20))
    add_clock(runtime, urgent, "resolution", T0 + timedelta(minutes=5))
    with runtime.store.connect() as conn:
        rows = load_board(conn, BoardFilter(), ["P1", "P2", "P3"], T0)
        only_db = load_board(conn, BoardFilter(team="db"), ["P1", "P2", "P3"], T0)
    assert [(r.title, r.deadline and r.deadline.clock) for r in rows] == [
        ("urgent", "resolution"),
        ("slow", "response"),
    ]
    assert [r.title for r in only_db] == ["urgent"]
    runtime.store.dispose()


# Bundled policy's P3 calendar: Asia/Shanghai (UTC+8), Mon-Fri 09:00-12:00 and 13:00-18:00.
BUSINESS = load_policy(None).calendars["business"]
FRIDAY_1730 = datetime(2026, 3, 6, 9, 30, tzinfo=UTC)  # 17:30 in Shanghai
MONDAY_1700 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)  # 8 business hours after Friday 17:00


def business_deadline(due: datetime = MONDAY_1700) -> Deadline:
    return Deadline("response", due, None, None, False, calendar=BUSINESS)


@pytest.mark.parametrize(
    ("now", "hours_left"),
    [
        (FRIDAY_1730, 7.5),
        (datetime(2026, 3, 7, 4, 0, tzinfo=UTC), 7.0),  # Saturday noon: the weekend costs nothing
        (datetime(2026, 3, 9, 1, 0, tzinfo=UTC), 7.0),  # Monday 09:00
        (datetime(2026, 3, 9, 5, 30, tzinfo=UTC), 3.5),  # Monday 13:30, after lunch
    ],
)
def test_calendar_clock_counts_business_time_left(now: datetime, hours_left: float) -> None:
    assert business_deadline().seconds_left(now) == hours_left * 3600


def test_calendar_clock_stands_still_outside_working_hours() -> None:
    saturday = datetime(2026, 3, 7, 4, 0, tzinfo=UTC)
    assert business_deadline().counting(FRIDAY_1730)
    assert not business_deadline().counting(saturday)
    assert business_deadline().counting_until(saturday) is None


def test_calendar_clock_counts_until_the_working_hours_end() -> None:
    friday_1800 = datetime(2026, 3, 6, 10, 0, tzinfo=UTC)
    assert business_deadline().counting_until(FRIDAY_1730) == friday_1800


def test_round_the_clock_deadline_has_no_end_of_hours() -> None:
    assert deadline(30).counting(T0) and deadline(30).counting_until(T0) is None


def test_calendar_clock_is_due_in_its_own_zone() -> None:
    local = business_deadline().due_local()
    assert local is not None and (local.hour, str(local.tzinfo)) == (17, "Asia/Shanghai")


def test_board_orders_calendar_clocks_by_business_seconds_left() -> None:
    # 7.5 business hours left, but 63.5 wall hours until Monday's due instant.
    weekend = replace(row(1, "P3", None), deadline=business_deadline())
    wall = replace(
        row(2, "P3", None),
        deadline=Deadline("response", FRIDAY_1730 + timedelta(hours=10), None, None, False),
    )
    ordered = board_order([wall, weekend], ["P1", "P2", "P3"], FRIDAY_1730)
    assert [r.id for r in ordered] == [1, 2]
