from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, insert

from bridge.runtime import Runtime
from bridge.store.schema import sla_clocks
from bridge.web.board import BoardFilter, BoardRow, Deadline, board_order, load_board, next_deadline
from tests.bridge.helpers import T0, make_runtime


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
