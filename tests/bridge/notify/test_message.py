from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest

from tests.bridge.notify.sample import NOW, incident_json, message
from tocsin.bridge.notify.message import (
    Deadline,
    Message,
    build_message,
    event_detail,
    format_duration,
)
from tocsin.bridge.policy.load import load_policy


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(45, "45s"), (60, "1m"), (870, "14m 30s"), (7500, "2h 05m"), (273600, "3d 4h"), (-180, "3m")],
)
def test_format_duration_is_short_and_human(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_headline_carries_priority_name_event_and_title() -> None:
    assert message().headline == "[P1 emergency] Triggered: 磁盘空间不足 on db-1"


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
    assert "response due in 14m 30s" in {f.label: f.text for f in page.fields()}["Deadline"]


def test_breached_clock_is_shown_only_when_nothing_else_runs() -> None:
    sla = {"response": {"due_at": "2026-03-02T09:50:00Z", "breached": True}}
    page = build_message(incident_json(sla=sla), event="incident.sla_breached", now=NOW)
    assert page.deadline is not None and page.deadline.remaining_seconds == -600
    assert "overdue by 10m" in {f.label: f.text for f in page.fields()}["Deadline"]


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
    assert event_detail(kind, data, actor) == text


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
        (datetime(2026, 3, 6, 9, 30, tzinfo=UTC), "7h 30m"),  # Friday 17:30 in Shanghai
        (datetime(2026, 3, 7, 12, 0, tzinfo=UTC), "7h 00m"),  # Saturday 20:00: no time spent
        (datetime(2026, 3, 9, 2, 0, tzinfo=UTC), "6h 00m"),  # Monday 10:00
    ],
)
def test_business_clock_says_its_business_time_left_and_local_due_time(
    now: datetime, left: str
) -> None:
    assert p3_deadline(now) == (
        f"response due in {left} of business hours (Mon 2026-03-09 17:00 Asia/Shanghai)"
    )


def test_overdue_business_clock_counts_overdue_business_time() -> None:
    tuesday_1000 = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)  # 2 working hours after Monday 17:00
    assert p3_deadline(tuesday_1000).startswith("response overdue by 2h 00m of business hours")


def test_business_time_reads_in_hours_not_days() -> None:
    assert format_duration(47.5 * 3600, days=False) == "47h 30m"


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
