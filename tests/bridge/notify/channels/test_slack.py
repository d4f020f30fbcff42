from __future__ import annotations

from tests.bridge.notify.receiver import receiving
from tests.bridge.notify.sample import notification
from tocsin.bridge.notify.channels.slack import SlackSender


def test_slack_gets_text_and_blocks_with_ack_button() -> None:
    with receiving("ok") as receiver:
        SlackSender("ops-slack", {"url": receiver.url("/services/T/B/X")}).deliver(notification())
    body = receiver.received[0].json
    assert body["text"] == "[P1 emergency] Triggered: 磁盘空间不足 on db-1"
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "actions"]
    assert "*Host:* db-1" in body["blocks"][1]["text"]["text"]
    buttons = body["blocks"][2]["elements"]
    assert buttons[0]["url"] == "https://oncall.example.com/ack/TOKEN"
