from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from tests.bridge.notify.receiver import receiving
from tests.bridge.notify.sample import notification
from tocsin.bridge.errors import DeliveryFailed
from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.wecom import WeComSender

OK = json.dumps({"errcode": 0, "errmsg": "ok"})


def test_wecom_gets_a_markdown_message_with_chinese_intact() -> None:
    with receiving(OK) as receiver:
        url = receiver.url("/cgi-bin/webhook/send") + "?key=ROBOTKEY"
        WeComSender("ops-wecom", {"url": url}).deliver(notification())
    got = receiver.received[0]
    assert got.query == {"key": "ROBOTKEY"}
    assert got.json["msgtype"] == "markdown"
    content = got.json["markdown"]["content"]
    assert "磁盘空间不足 on db-1" in content and "**Host:** db-1" in content
    assert len(content.encode("utf-8")) <= 4096


def test_wecom_errcode_in_a_200_is_a_failure_without_the_key() -> None:
    refusal = json.dumps({"errcode": 93000, "errmsg": "invalid webhook url"})
    with receiving(refusal) as receiver:
        url = receiver.url("/cgi-bin/webhook/send") + "?key=ROBOTKEY"
        with pytest.raises(DeliveryFailed) as caught:
            WeComSender("ops-wecom", {"url": url}).deliver(notification())
    assert "errcode 93000: invalid webhook url" in caught.value.message
    assert "ROBOTKEY" not in caught.value.message


def test_a_markdown_page_the_receiver_refuses_goes_out_as_plain_text() -> None:
    with receiving(OK) as receiver:
        receiver.answer = lambda got: (
            (400, "bad markdown") if got.json["msgtype"] == "markdown" else (200, OK)
        )
        url = receiver.url("/cgi-bin/webhook/send") + "?key=ROBOTKEY"
        WeComSender("ops-wecom", {"url": url}).deliver(notification())
    assert [r.json["msgtype"] for r in receiver.received] == ["markdown", "text"]
    assert "Summary: /var 使用率 97%" in receiver.received[1].json["text"]["content"]


def test_a_page_that_cannot_be_rendered_goes_out_as_plain_text() -> None:
    class Broken(WeComSender):
        def payload(self, notification: Notification) -> Mapping[str, Any]:
            raise KeyError("a renderer's bug")

    with receiving(OK) as receiver:
        Broken("ops-wecom", {"url": receiver.url("/send?key=K")}).deliver(notification())
    assert receiver.received[0].json["msgtype"] == "text"
