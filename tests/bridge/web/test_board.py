from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, insert

from tests.bridge.helpers import T0, make_runtime
from tests.bridge.testclient import TestClient
from tocsin.bridge.policy.load import load_policy
from tocsin.bridge.runtime import Runtime
from tocsin.bridge.store.schema import sla_clocks
from tocsin.bridge.web import board
from tocsin.bridge.web.board import (
    BoardFilter,
    Deadline,
    board_version,
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


def test_next_deadline_counts_paused_clocks_by_what_they_have_left() -> None:
    paused = deadline(None, "resolution", remaining_seconds=60.0)
    running = deadline(10, "update")
    assert next_deadline([running, paused], T0) == paused


def test_deadline_turns_amber_at_warning_and_red_at_breach() -> None:
    clock = deadline(15, warn_at=T0 + timedelta(minutes=10))
    assert clock.state(T0) == "ok"
    assert clock.state(T0 + timedelta(minutes=10)) == "warning"
    assert clock.state(T0 + timedelta(minutes=15)) == "breached"


def add_clock(
    runtime: Runtime,
    incident_id: int,
    clock: str,
    due: datetime | None,
    remaining_seconds: float | None = None,
) -> None:
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
                warn_at=due - timedelta(minutes=5) if due else None,
                remaining_seconds=remaining_seconds,
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
        rows = load_board(conn, BoardFilter(), ["P1", "P2", "P3"], T0).rows
        only_db = load_board(conn, BoardFilter(team="db"), ["P1", "P2", "P3"], T0).rows
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


def open_with_clocks(runtime: Runtime, plan: list[tuple[str, float | None]]) -> list[int]:
    """Open one incident per (priority, minutes to its response deadline or None)."""
    ids = []
    for index, (priority, minutes) in enumerate(plan):
        found = runtime.incidents.create(title=f"incident {index}", priority=priority, actor=None)
        with runtime.store.begin() as conn:
            conn.execute(delete(sla_clocks).where(sla_clocks.c.incident_id == found))
        if minutes is not None:
            add_clock(runtime, found, "response", T0 + timedelta(minutes=minutes))
        ids.append(found)
    return ids


def test_board_orders_by_priority_then_time_left_then_age(database_url: str) -> None:
    runtime = make_runtime(database_url)
    ids = open_with_clocks(runtime, [("P3", 5), ("P1", 30), ("P2", 1), ("P1", 10), ("P1", None)])
    with runtime.store.connect() as conn:
        shown = load_board(conn, BoardFilter(), ["P1", "P2", "P3"], T0)
    assert [r.id for r in shown.rows] == [ids[3], ids[1], ids[4], ids[2], ids[0]]
    assert (shown.total, shown.next_after) == (5, None)
    runtime.store.dispose()


def test_a_paused_clock_sorts_by_when_it_would_fall_due_resumed_now(database_url: str) -> None:
    runtime = make_runtime(database_url)
    running, paused = open_with_clocks(runtime, [("P1", 10), ("P1", None)])
    add_clock(runtime, paused, "resolution", None, remaining_seconds=60.0)
    with runtime.store.connect() as conn:
        rows = load_board(conn, BoardFilter(), ["P1"], T0).rows
    assert [r.id for r in rows] == [paused, running]
    runtime.store.dispose()


def test_pages_continue_after_the_last_row_without_gaps_or_repeats(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = make_runtime(database_url)
    # Two P1 incidents due at the same instant: the page may end between them.
    plan: list[tuple[str, float | None]] = [("P2", 5), ("P1", 7), ("P1", 7), ("P1", None)]
    ids = open_with_clocks(runtime, [*plan, ("P3", 1), ("P1", 2), ("P2", None)])
    pages, after = [], None
    with runtime.store.connect() as conn:
        whole = [r.id for r in load_board(conn, BoardFilter(), ["P1", "P2", "P3"], T0).rows]
        monkeypatch.setattr(board, "BOARD_PAGE", 3)
        for _ in range(5):
            shown = load_board(conn, BoardFilter(), ["P1", "P2", "P3"], T0, after=after)
            pages.append([r.id for r in shown.rows])
            after = shown.next_after
            if after is None:
                break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for p in pages for i in p] == whole
    assert sorted(i for p in pages for i in p) == sorted(ids)
    runtime.store.dispose()


def test_the_version_moves_with_every_event_and_nothing_else(database_url: str) -> None:
    runtime = make_runtime(database_url)
    first = runtime.incidents.create(title="disk full", priority="P1", actor=None)
    with runtime.store.connect() as conn:
        before = board_version(conn, T0)
        assert board_version(conn, T0 + timedelta(seconds=20)) == before
    runtime.incidents.act(first, "ack", actor="alice")
    with runtime.store.connect() as conn:
        assert board_version(conn, T0) != before
    runtime.store.dispose()


def test_a_refresh_of_an_unchanged_board_gets_304_and_no_body(
    client: TestClient, runtime: Runtime
) -> None:
    shown = client.get("/")
    etag = shown.headers["etag"]
    assert "data-version=" in shown.text
    unchanged = client.get("/", headers={"If-None-Match": etag})
    assert (unchanged.status_code, unchanged.content) == (304, b"")
    runtime.incidents.create(title="new", priority="P1", actor=None)
    changed = client.get("/", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "new" in changed.text
    assert changed.headers["etag"] != etag


def test_the_board_links_to_the_next_page(
    client: TestClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(board, "BOARD_PAGE", 2)
    ids = [runtime.incidents.create(title=f"i{n}", priority="P1", actor=None) for n in range(3)]
    first = client.get("/").text
    assert "3 open" in first and f"/?after={ids[1]}" in first
    second = client.get(f"/?after={ids[1]}").text
    assert f'data-id="{ids[2]}"' in second and 'rel="first"' in second
    assert 'rel="next"' not in second
