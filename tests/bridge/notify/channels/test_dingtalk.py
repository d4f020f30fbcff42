from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest

from tests.bridge.notify.receiver import receiving
from tests.bridge.notify.sample import notification
from tocsin.bridge.errors import DeliveryFailed
from tocsin.bridge.notify.channels.dingtalk import DingTalkSender

OK = json.dumps({"errcode": 0, "errmsg": "ok"})
SECRET = "SECdeadbeef0123456789"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def documented_sign(timestamp: str, secret: str) -> str:
    """DingTalk's own Python sample: HMAC-SHA256 keyed by the secret over 'timestamp\\nsecret'."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def test_dingtalk_signed_message_verifies_with_the_documented_algorithm() -> None:
    with receiving(OK) as receiver:
        url = receiver.url("/robot/send") + "?access_token=TOKEN123"
        settings = {"url": url, "secret": SECRET}
        DingTalkSender("ops-ding", settings, clock=lambda: NOW).deliver(notification())
    got = receiver.received[0]
    assert got.query["access_token"] == "TOKEN123"
    assert got.query["timestamp"] == str(int(NOW.timestamp() * 1000))
    assert got.query["sign"] == documented_sign(got.query["timestamp"], SECRET)
    assert got.json["msgtype"] == "markdown"
    assert got.json["markdown"]["title"] == "[P1 emergency] Triggered: 磁盘空间不足 on db-1"
    assert "**Summary:** /var 使用率 97%" in got.json["markdown"]["text"]


def test_dingtalk_without_secret_sends_no_signature() -> None:
    with receiving(OK) as receiver:
        url = receiver.url("/robot/send") + "?access_token=TOKEN123"
        DingTalkSender("ops-ding", {"url": url}).deliver(notification())
    assert set(receiver.received[0].query) == {"access_token"}


def test_dingtalk_refusal_is_a_failure_naming_neither_token_nor_secret() -> None:
    refusal = json.dumps({"errcode": 310000, "errmsg": "sign not match"})
    with receiving(refusal) as receiver:
        url = receiver.url("/robot/send") + "?access_token=TOKEN123"
        sender = DingTalkSender("ops-ding", {"url": url, "secret": SECRET})
        with pytest.raises(DeliveryFailed) as caught:
            sender.deliver(notification())
    assert "errcode 310000: sign not match" in caught.value.message
    assert "TOKEN123" not in caught.value.message and SECRET not in caught.value.message
