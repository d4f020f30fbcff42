"""A person's own rules page them step by step from durable timers; quiet hours hold, no answer hurries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.bridge.api.test_phone_callbacks import PUBLIC, twilio_signature
from tests.bridge.helpers import FakeClock, config_for, make_runtime
from tests.bridge.notify import phone_vendors as pv
from tests.bridge.testclient import TestClient
from tocsin.bridge.notify import queue
from tocsin.bridge.notify.personal import KIND
from tocsin.bridge.notify.phone_ledger import Ledger
from tocsin.bridge.notify.worker import DeliveryWorker
from tocsin.bridge.runtime import Runtime, build_runtime
from tocsin.bridge.server.app import create_app
from tocsin.bridge.store.schema import events
from tocsin.bridge.timers.rows import pending
from tocsin.bridge.timers.scheduler import Scheduler
from tocsin.bridge.web.i18n import Translator
from tocsin.bridge.web.timeline import say

NOON = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
NIGHT = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 23:00 in Shanghai
P1_RULE = "[{after: 0m, via: chat}, {after: 2m, via: text}, {after: 5m, via: call}]"


OPENED: list[Runtime] = []  # runtimes a test built, their pools closed after it


@pytest.fixture(autouse=True)
def _dispose() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().store.dispose()


def policy(token: Path, p1_rule: str = P1_RULE, api: str = "http://127.0.0.1:9") -> str:
    twilio = (f"provider: twilio, account_sid: {pv.SID}, auth_token_file: {token}, "
              f"from: '+15005550006', callback_url: '{PUBLIC}', api_url: '{api}'")  # fmt: skip
    return f"""
priorities:
  P1: {{response: 15m}}
  P2: {{response: 30m}}
routes: [{{priority: P1, escalation: ops}}]
channels:
  chat: {{type: log}}
  text: {{type: sms, {twilio}}}
  call: {{type: voice, {twilio}}}
people:
  carol:
    phone: '+8613800138000'
    timezone: Asia/Shanghai
    channels: [chat, text, call]
    rules:
      P1: {p1_rule}
      default: [{{after: 0m, via: chat}}, {{after: 10m, via: text}}]
    quiet_hours: {{hours: "22:00-07:00"}}
escalation_policies:
  ops:
    steps: [{{after: 0m, notify: [person:carol]}}]
"""


def bridge(sqlite_url: str, tmp_path: Path, at: datetime, **rule: str) -> Runtime:
    (tmp_path / "token").write_text(pv.TOKEN)
    runtime = make_runtime(sqlite_url, FakeClock(at), policy=policy(tmp_path / "token", **rule))
    OPENED.append(runtime)
    return runtime


def open_incident(runtime: Runtime, priority: str = "P1") -> int:
    return runtime.incidents.create(
        title="磁盘满", priority=priority, actor=None, escalation_policy="ops"
    )


def fire(runtime: Runtime) -> None:
    next(w for w in runtime.workers if isinstance(w, Scheduler)).run_once()


def paged(runtime: Runtime) -> list[tuple[str, Any, list[str]]]:
    with runtime.store.connect() as conn:
        rows = queue.list_rows(conn, status=None)
    return [(r.channel, r.payload.get("rule_step"), r.payload["to"]) for r in reversed(rows)]


def notified(runtime: Runtime) -> list[dict[str, Any]]:
    with runtime.store.connect() as conn:
        query = select(events.c.data).where(events.c.kind == "incident.notified")
        return [dict(row.data) for row in conn.execute(query.order_by(events.c.id))]


def test_the_first_step_pages_at_once_and_the_later_ones_wait_as_timers(
    sqlite_url: str, tmp_path: Path
) -> None:
    runtime = bridge(sqlite_url, tmp_path, NOON)
    incident = open_incident(runtime)
    assert paged(runtime) == [("chat", 0, [])]
    with runtime.store.connect() as conn:
        later = pending(conn, incident_id=incident, kinds=[KIND])
    assert [(t.subject, t.payload["via"], t.due_at - NOON) for t in later] == [
        ("carol", "text", timedelta(minutes=2)), ("carol", "call", timedelta(minutes=5))
    ]  # fmt: skip
    (plan,) = notified(runtime)
    assert plan["sent"] == ["chat"] and [p["via"] for p in plan["planned"]] == ["text", "call"]


def test_each_later_step_pages_when_due_while_unacknowledged(
    database_url: str, tmp_path: Path
) -> None:
    runtime = bridge(database_url, tmp_path, NOON)
    open_incident(runtime)
    runtime.clock.advance(minutes=2)  # type: ignore[attr-defined]
    fire(runtime)
    assert paged(runtime) == [("chat", 0, []), ("text", 1, ["+8613800138000"])]
    assert notified(runtime)[-1] == {"person": "carol", "sent": ["text"], "step": 1}


def test_an_acknowledged_incident_takes_no_further_step(sqlite_url: str, tmp_path: Path) -> None:
    runtime = bridge(sqlite_url, tmp_path, NOON)
    incident = open_incident(runtime)
    runtime.incidents.act(incident, "ack", actor="carol")
    runtime.clock.advance(minutes=10)  # type: ignore[attr-defined]
    fire(runtime)
    assert paged(runtime) == [("chat", 0, [])]


def test_a_restarted_bridge_takes_the_steps_that_fell_due_while_it_was_down(
    sqlite_url: str, tmp_path: Path
) -> None:
    first = bridge(sqlite_url, tmp_path, NOON)
    open_incident(first)
    first.stop()
    clock = FakeClock(NOON + timedelta(minutes=6))
    again = build_runtime(config_for(sqlite_url), policy=first.policy, clock=clock)
    OPENED.append(again)
    fire(again)
    assert [channel for channel, _, _ in paged(again)] == ["chat", "text", "call"]
    assert all(n.get("late_seconds", 0) > 0 for n in notified(again)[1:])


def test_quiet_hours_hold_a_p2_page_until_morning(sqlite_url: str, tmp_path: Path) -> None:
    runtime = bridge(sqlite_url, tmp_path, NIGHT)
    open_incident(runtime, "P2")
    assert paged(runtime) == []
    morning = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 07:00 in Shanghai
    (plan,) = notified(runtime)
    assert [(p["via"], p["at"], p["held"]) for p in plan["planned"]] == [
        ("chat", "2026-03-02T23:00:00Z", True), ("text", "2026-03-02T23:00:00Z", True)
    ]  # fmt: skip
    runtime.clock.advance(minutes=30)  # type: ignore[attr-defined]
    fire(runtime)
    assert paged(runtime) == []
    runtime.clock.now = morning  # type: ignore[attr-defined]
    fire(runtime)
    assert [channel for channel, _, _ in paged(runtime)] == ["chat", "text"]


def test_a_p1_rings_through_quiet_hours(sqlite_url: str, tmp_path: Path) -> None:
    runtime = bridge(sqlite_url, tmp_path, NIGHT)
    open_incident(runtime, "P1")
    assert paged(runtime) == [("chat", 0, [])]


def test_an_unanswered_call_moves_to_the_next_method_at_once(
    database_url: str, tmp_path: Path
) -> None:
    rule = "[{after: 0m, via: call}, {after: 10m, via: text}]"
    runtime = bridge(database_url, tmp_path, NOON, p1_rule=rule)
    open_incident(runtime)
    ((row_key, _),) = keys(runtime)
    Ledger(runtime.store).accepted(row_key, "CA" + "7" * 32)
    path, form = "/api/v1/phone/call/status", {"CallSid": "CA" + "7" * 32, "CallStatus": "busy"}
    with TestClient(create_app(runtime, start_workers=False)) as client:
        signed = {"X-Twilio-Signature": twilio_signature(PUBLIC + path, form, pv.TOKEN)}
        assert client.post(path, data=form, headers=signed).status_code == 204
    fire(runtime)  # the clock has not moved: the text goes now, not in 10 minutes
    assert [(channel, step) for channel, step, _ in paged(runtime)] == [("call", 0), ("text", 1)]
    hurried = notified(runtime)[1]
    assert (hurried["unanswered"], hurried["status"], hurried["next"]) == ("call", "busy", "text")


def keys(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.store.connect() as conn:
        return [(r.idempotency_key, r.channel) for r in queue.list_rows(conn, status=None)]


@pytest.mark.parametrize(
    ("language", "data", "text"),
    [
        ("en", {"person": "carol", "sent": ["chat"], "planned": [
            {"via": "text", "at": "2026-03-02T04:02:00Z"}]},
         "Reached carol by chat; carol's rule: text at Mon 2026-03-02 04:02 UTC"),
        ("zh-CN", {"person": "carol", "held": ["text"], "until": "2026-03-02T23:00:00Z"},
         "carol 处于免打扰时段，text 通知等到 周一 2026-03-02 23:00 UTC 结束后发送"),
        ("en", {"person": "carol", "unanswered": "call", "status": "busy", "next": "text"},
         "carol did not answer call (busy); next: text"),
        ("en", {"person": "carol", "folded": "text", "until": "2026-03-02T04:10:00Z"},
         "carol reached their phone limit: this page by text joins the summary sent at "
         "Mon 2026-03-02 04:10 UTC"),
        ("zh-CN", {"person": "carol", "unanswered": "call", "status": "no-answer"},
         "carol 未接听 call（no-answer），其通知规则已无后续步骤"),
    ],
)  # fmt: skip
def test_the_timeline_says_each_step_in_the_readers_language(
    language: str, data: dict[str, Any], text: str
) -> None:
    class Stored:
        kind, actor, occurred_at = "incident.notified", None, NOON

    event = Stored()
    event.data = data  # type: ignore[attr-defined]
    line = say(event, Translator(language), str)
    assert line.sentence == text and line.warning is None


def test_a_page_the_provider_refuses_moves_to_the_next_method_at_once(
    sqlite_url: str, tmp_path: Path
) -> None:
    rule = "[{after: 0m, via: text}, {after: 10m, via: call}]"
    with pv.vendor("twilio") as vendor:
        vendor.error = (400, {"code": 21211, "message": "Invalid 'To' Phone Number",
                              "status": 400})  # fmt: skip
        runtime = bridge(sqlite_url, tmp_path, NOON, p1_rule=rule, api=vendor.url())
        open_incident(runtime)
        worker = next(w for w in runtime.workers if isinstance(w, DeliveryWorker))
        worker.run_once()
    fire(runtime)  # the clock has not moved: the call goes now, not in 10 minutes
    with runtime.store.connect() as conn:
        rows = list(reversed(queue.list_rows(conn, status=None)))
    assert [(r.channel, r.status, r.provider_status) for r in rows] == [
        ("text", "dead", "refused"), ("call", "pending", None)
    ]  # fmt: skip
    hurried = notified(runtime)[1]
    assert (hurried["unanswered"], hurried["status"], hurried["next"]) == (
        "text",
        "refused",
        "call",
    )
