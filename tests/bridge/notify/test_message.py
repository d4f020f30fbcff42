from __future__ import annotations

from datetime import timedelta

import pytest

from bridge.notify.message import Message, build_message, event_detail, format_duration
from tests.bridge.notify.sample import NOW, incident_json, message


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
