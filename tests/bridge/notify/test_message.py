from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from tests.bridge.notify.sample import NOW, incident_json, message
from tocsin.bridge.notify.message import Deadline, Message, build_message
from tocsin.bridge.notify.wording import event_detail, in_words
from tocsin.bridge.policy.load import load_policy


@pytest.mark.parametrize(
    ("seconds", "en", "zh"),
    [
        (45, "45 seconds", "45 秒"),
        (60, "1 minute", "1 分"),
        (870, "14 minutes 30 seconds", "14 分 30 秒"),
        (7500, "2 hours 5 minutes", "2 小时 5 分"),
        (273600, "3 days 4 hours", "3 天 4 小时"),
        (-180, "3 minutes", "3 分"),
        (3600, "1 hour", "1 小时"),
    ],
)
def test_time_left_reads_in_words_in_both_languages(seconds: float, en: str, zh: str) -> None:
    assert (in_words(seconds, "en"), in_words(seconds, "zh-CN")) == (en, zh)


def test_headline_carries_priority_name_event_and_title() -> None:
    assert message(event="incident.acknowledged").headline == (
        "[P1 emergency] Acknowledged: 磁盘空间不足 on db-1"
    )


@pytest.mark.parametrize(
    ("language", "headline"),
    [
        ("en", "New P1 incident: 磁盘空间不足 on db-1"),
        ("zh-CN", "新 P1 事件：磁盘空间不足 on db-1"),
    ],
)
def test_the_first_page_reads_as_a_new_incident(language: str, headline: str) -> None:
    assert message(first=True, language=language).headline == headline


def test_a_page_names_the_alert_host_service_and_severity() -> None:
    fields = {f.label: f.text for f in message().fields()}
    assert (fields["Alert"], fields["Host"], fields["Service"], fields["Severity"]) == (
        "HostDiskFull",
        "db-1",
        "订单服务",
        "critical",
    )


def test_the_deadline_is_in_words_and_in_the_readers_zone() -> None:
    fields = {f.label: f.text for f in message(zone="Asia/Shanghai").fields()}
    assert fields["Deadline"] == "response due in 15 minutes, at Mon 2026-03-02 18:15 Asia/Shanghai"
    zh = {f.label: f.text for f in message(zone="Asia/Shanghai", language="zh-CN").fields()}
    assert zh["时限"] == "响应时限还剩 15 分，截止 周一 2026-03-02 18:15 Asia/Shanghai"


def test_page_shows_host_summary_runbook_and_links() -> None:
    fields = {f.label: f for f in message().fields()}
    assert fields["Host"].text == "db-1"
    assert fields["Summary"].text == "/var 使用率 97%"
    assert fields["Runbook"].url == "https://wiki.example.com/runbooks/disk"
    assert fields["Incident"].url == "https://oncall.example.com/incidents/42"
    assert fields["Acknowledge"].url == "https://oncall.example.com/ack/TOKEN"


def test_deadline_is_the_earliest_running_clock_with_time_left() -> None:
    page = message(now=NOW + timedelta(seconds=30))
    assert page.deadline is not None
    assert (page.deadline.clock, page.deadline.remaining_seconds) == ("response", 870)
    deadline = {f.label: f.text for f in page.fields()}["Deadline"]
    assert deadline == "response due in 14 minutes 30 seconds, at Mon 2026-03-02 10:15 UTC"


def test_breached_clock_is_shown_only_when_nothing_else_runs() -> None:
    sla = {"response": {"due_at": "2026-03-02T09:50:00Z", "breached": True}}
    page = build_message(incident_json(sla=sla), event="incident.sla_breached", now=NOW)
    assert page.deadline is not None and page.deadline.remaining_seconds == -600
    assert "overdue by 10 minutes, since" in {f.label: f.text for f in page.fields()}["Deadline"]


def test_paused_clocks_without_due_time_give_no_deadline() -> None:
    sla = {"response": {"due_at": None, "remaining_seconds": 300, "breached": False}}
    assert build_message(incident_json(sla=sla), event="incident.paused", now=NOW).deadline is None


def test_similar_resolutions_are_listed_with_their_solution() -> None:
    similar = [f.text for f in message().fields() if f.label == "Similar"]
    assert similar == ["#7 磁盘满: 清理 /var/log 并启用 logrotate"]


def test_message_survives_the_outbox_json_round_trip() -> None:
    page = message()
    assert Message.from_json(page.to_json()) == page


@pytest.mark.parametrize(
    ("kind", "data", "actor", "text"),
    [
        (
            "incident.sla_warning",
            {"sla": {"clock": "response"}},
            None,
            "SLA warning on the response clock",
        ),
        ("incident.escalated", {"level": 2}, None, "escalated to level 2"),
        ("incident.note_added", {"text": "正在处理"}, "carol", "note by carol: 正在处理"),
        ("incident.acknowledged", {}, "carol", "acknowledged by carol"),
    ],
)
def test_event_detail_says_what_happened(
    kind: str, data: dict, actor: str | None, text: str
) -> None:
    assert event_detail(kind, data, actor, "en") == text


@pytest.mark.parametrize(
    ("kind", "data", "actor", "text"),
    [
        ("incident.sla_warning", {"sla": "response"}, None, "响应时钟SLA 预警"),
        ("incident.escalated", {"level": 2}, None, "升级到第 2 级"),
        ("incident.note_added", {"text": "正在处理"}, "carol", "carol 备注：正在处理"),
        ("incident.acknowledged", {}, "carol", "carol 已确认"),
    ],
)
def test_event_detail_in_chinese(kind: str, data: dict, actor: str | None, text: str) -> None:
    assert event_detail(kind, data, actor, "zh-CN") == text


def test_a_long_text_is_clipped_so_robots_accept_the_page() -> None:
    page = build_message(incident_json(summary="日志" * 1000), event="incident.triggered", now=NOW)
    summary = {f.label: f.text for f in page.fields()}["Summary"]
    assert len(summary) == 600 and summary.endswith("…")


# The bundled P3 calendar: Asia/Shanghai (UTC+8), Mon-Fri 09:00-12:00 and 13:00-18:00.
CALENDARS = load_policy(None).calendars
P3_SLA = {
    "response": {"due_at": "2026-03-09T09:00:00Z", "breached": False, "calendar": "business"},
    "resolution": {"due_at": "2026-03-16T09:00:00Z", "breached": False, "calendar": "business"},
}


def p3_deadline(now: datetime) -> str:
    page = build_message(
        incident_json(priority="P3", sla=P3_SLA),
        event="incident.escalated",
        now=now,
        calendars=CALENDARS,
    )
    return {f.label: f.text for f in page.fields()}["Deadline"]


@pytest.mark.parametrize(
    ("now", "left"),
    [
        (datetime(2026, 3, 6, 9, 30, tzinfo=UTC), "7 hours 30 minutes"),  # Friday 17:30 in Shanghai
        (datetime(2026, 3, 7, 12, 0, tzinfo=UTC), "7 hours"),  # Saturday 20:00: no time spent
        (datetime(2026, 3, 9, 2, 0, tzinfo=UTC), "6 hours"),  # Monday 10:00
    ],
)
def test_business_clock_says_its_business_time_left_and_local_due_time(
    now: datetime, left: str
) -> None:
    assert p3_deadline(now) == (
        f"response due in {left} of business hours, at Mon 2026-03-09 17:00 Asia/Shanghai"
    )


def test_overdue_business_clock_counts_overdue_business_time() -> None:
    tuesday_1000 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 2 working hours after Monday 17:00
    assert p3_deadline(tuesday_1000).startswith("response overdue by 2 hours of business hours")


def test_business_time_reads_in_hours_not_days() -> None:
    assert in_words(47.5 * 3600, "en", days=False) == "47 hours 30 minutes"


def test_clock_on_an_unknown_calendar_counts_wall_time() -> None:
    sla = {"response": {**P3_SLA["response"], "calendar": "gone"}}
    page = build_message(
        incident_json(sla=sla), event="incident.triggered", now=NOW, calendars=CALENDARS
    )
    assert page.deadline is not None and not page.deadline.business
    assert (
        page.deadline.remaining_seconds
        == (datetime(2026, 3, 9, 9, tzinfo=UTC) - NOW).total_seconds()
    )


def test_business_deadline_survives_the_outbox_json_round_trip() -> None:
    page = build_message(
        incident_json(sla=P3_SLA), event="incident.triggered", now=NOW, calendars=CALENDARS
    )
    assert page.deadline is not None and page.deadline.business
    assert Message.from_json(page.to_json()) == page


def test_a_page_queued_before_business_deadlines_still_loads() -> None:
    stored = message().to_json()
    stored["deadline"] = {
        "clock": "response",
        "due_at": "2026-03-02T10:15:00Z",
        "remaining_seconds": 900,
    }
    assert Message.from_json(stored).deadline == Deadline("response", "2026-03-02T10:15:00Z", 900)


def test_stored_json_holds_every_field_and_reads_back_as_the_same_message() -> None:
    sent = message()
    stored = json.loads(json.dumps(sent.to_json()))
    assert stored == json.loads(json.dumps(asdict(sent)))
    assert Message.from_json(stored) == sent
