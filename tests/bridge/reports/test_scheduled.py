"""Scheduled reports: next run in the schedule's zone, one timer per schedule, the period sent."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, insert, select

from tests.bridge.helpers import FakeClock, config_for
from tests.bridge.notify.receiver import receiving
from tocsin.bridge import migrations
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.worker import DeliveryWorker
from tocsin.bridge.policy.load import bundled_policy_path, parse_policy
from tocsin.bridge.policy.model import Policy, ReportSchedule
from tocsin.bridge.reports.scheduled import (
    KIND,
    ReportMessage,
    ReportTimers,
    ensure_scheduled,
    handler,
    next_run,
)
from tocsin.bridge.runtime import build_runtime
from tocsin.bridge.store.db import Store
from tocsin.bridge.store.schema import incidents, metadata, outbox
from tocsin.bridge.timers import rows as timers
from tocsin.bridge.timers.scheduler import Scheduler

SHANGHAI = ZoneInfo("Asia/Shanghai")
WEEKLY = ReportSchedule("weekly", ("ops-chat",), timedelta(days=7), 0, time(9), SHANGHAI)
DAILY = ReportSchedule("daily", ("ops-chat",), timedelta(days=1), None, time(9), SHANGHAI)
MONDAY_9 = datetime(2026, 3, 2, 1, tzinfo=UTC)  # Monday 09:00 in Shanghai


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        (WEEKLY, MONDAY_9 - timedelta(minutes=1), MONDAY_9),
        (WEEKLY, MONDAY_9, MONDAY_9 + timedelta(days=7)),
        (WEEKLY, MONDAY_9 + timedelta(days=2), MONDAY_9 + timedelta(days=7)),
        (DAILY, MONDAY_9 + timedelta(hours=1), MONDAY_9 + timedelta(days=1)),
        (DAILY, MONDAY_9 - timedelta(hours=10), MONDAY_9),  # Sunday 23:00 local
    ],
)
def test_next_run_is_at_the_local_day_and_time(
    schedule: ReportSchedule, after: datetime, expected: datetime
) -> None:
    assert next_run(schedule, after) == expected


@pytest.fixture
def store(sqlite_url: str) -> Iterator[Store]:
    store = Store(sqlite_url)
    metadata.create_all(store.engine)
    yield store
    store.dispose()


def pending(conn: Connection) -> list[tuple[str | None, datetime]]:
    return [(t.subject, t.due_at) for t in timers.pending(conn, kinds=[KIND])]


def test_each_schedule_gets_one_pending_timer(store: Store) -> None:
    now = MONDAY_9 + timedelta(hours=1)
    for _ in range(2):
        with store.begin() as conn:
            ensure_scheduled(conn, [WEEKLY, DAILY], now)
    with store.connect() as conn:
        assert sorted(pending(conn)) == [
            ("daily", MONDAY_9 + timedelta(days=1)),
            ("weekly", MONDAY_9 + timedelta(days=7)),
        ]


def test_removed_schedule_loses_its_timer_and_a_changed_one_moves(store: Store) -> None:
    with store.begin() as conn:
        ensure_scheduled(conn, [WEEKLY, DAILY], MONDAY_9)
    later = ReportSchedule("weekly", ("ops-chat",), timedelta(days=7), 0, time(10), SHANGHAI)
    with store.begin() as conn:
        ensure_scheduled(conn, [later], MONDAY_9)
    with store.connect() as conn:
        assert pending(conn) == [("weekly", MONDAY_9 + timedelta(hours=1))]


def test_an_overdue_timer_is_kept_to_fire_late(store: Store) -> None:
    with store.begin() as conn:
        ensure_scheduled(conn, [WEEKLY], MONDAY_9 - timedelta(hours=1))
    with store.begin() as conn:
        ensure_scheduled(conn, [WEEKLY], MONDAY_9 + timedelta(days=3))
    with store.connect() as conn:
        assert pending(conn) == [("weekly", MONDAY_9)]


def policy_with_report() -> Policy:
    text = with_channel(bundled_policy_path().read_text(encoding="utf-8"),
                        "ops-chat: {type: webhook, url: 'http://127.0.0.1:9/'}")  # fmt: skip
    text += (
        "reports:\n  - {name: weekly, channels: [ops-chat], period: 7d, day: mon, at: '09:00'}\n"
    )
    return parse_policy(text, "test-policy.yml")


def with_channel(policy: str, channel: str) -> str:
    """Return the policy text with one more channel in its `channels:` section."""
    return policy.replace("\nchannels:\n", f"\nchannels:\n  {channel}\n", 1)


def test_fired_timer_sends_the_last_period_and_schedules_the_next(store: Store) -> None:
    policy = policy_with_report()
    sent: list[ReportMessage] = []
    with store.begin() as conn:
        conn.execute(
            insert(incidents),
            [
                {
                    "key": k,
                    "title": k,
                    "priority": "P1",
                    "status": "triggered",
                    "source": "manual",
                    "created_at": at,
                    "updated_at": at,
                    "labels": {},
                }
                for k, at in [
                    ("in", MONDAY_9 - timedelta(days=1)),
                    ("old", MONDAY_9 - timedelta(days=8)),
                ]
            ],
        )
        ensure_scheduled(conn, policy.reports, MONDAY_9 - timedelta(hours=1))
    late = MONDAY_9 + timedelta(days=1)  # the bridge was down at the time
    scheduler = Scheduler(
        store, {KIND: handler(lambda: policy, lambda c, m, now: sent.append(m))}, clock=lambda: late
    )
    assert scheduler.run_once() == 1
    assert [(m.channel, m.key) for m in sent] == [
        ("ops-chat", "report:weekly:2026-03-02T01:00:00Z:ops-chat")
    ]
    assert sent[0].document["total"]["opened"] == 1
    assert sent[0].document["since"] == "2026-02-23T01:00:00Z"
    assert "SLA report" in sent[0].text
    with store.connect() as conn:
        assert pending(conn) == [("weekly", MONDAY_9 + timedelta(days=7))]


def test_timer_of_a_schedule_gone_from_the_policy_sends_nothing(store: Store) -> None:
    sent: list[ReportMessage] = []
    with store.begin() as conn:
        ensure_scheduled(conn, [WEEKLY], MONDAY_9 - timedelta(hours=1))
    policy = policy_with_report()
    empty = Policy(priorities=policy.priorities, routes=policy.routes)
    scheduler = Scheduler(
        store,
        {KIND: handler(lambda: empty, lambda c, m, now: sent.append(m))},
        clock=lambda: MONDAY_9,
    )
    assert (scheduler.run_once(), sent) == (1, [])


def test_runtime_delivers_a_due_report_to_a_webhook_channel(sqlite_url: str) -> None:
    with receiving() as receiver:
        text = with_channel(bundled_policy_path().read_text(encoding="utf-8"),
                            f"ops-hook: {{type: webhook, url: '{receiver.url()}'}}")  # fmt: skip
        text += "reports:\n  - {name: weekly, channels: [ops-hook], period: 7d, day: mon, at: '09:00'}\n"
        clock = FakeClock(MONDAY_9 - timedelta(minutes=1))
        runtime = build_runtime(config_for(sqlite_url), policy=parse_policy(text), clock=clock)
        migrations.upgrade(runtime.store)
        report_timers = next(w for w in runtime.workers if isinstance(w, ReportTimers))
        scheduler = next(w for w in runtime.workers if isinstance(w, Scheduler))
        delivery = next(w for w in runtime.workers if isinstance(w, DeliveryWorker))
        report_timers.start()
        with runtime.store.begin() as conn:  # a second replica scheduled the same run
            timers.schedule(conn, KIND, MONDAY_9, now=clock.now, subject="weekly")
        clock.advance(60)
        assert scheduler.run_once() == 2
        delivery.run_once()
        with runtime.store.connect() as conn:
            assert pending(conn) == [("weekly", MONDAY_9 + timedelta(days=7))]
            row = conn.execute(select(outbox)).one()
        runtime.store.dispose()
    assert (row.event_id, row.incident_id) == (None, None)
    assert row.idempotency_key == "report:weekly:2026-03-02T01:00:00Z:ops-hook"
    assert (
        Message.from_json(row.payload["message"]).headline == "SLA report 2026-02-23 – 2026-03-02"
    )
    bodies = [r.json for r in receiver.received]
    assert [(b["event"], b["report"]["until"]) for b in bodies] == [
        ("report.sla", "2026-03-02T01:00:00Z")
    ]
