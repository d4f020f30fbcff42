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
from tocsin.bridge.notify.channels.feishu import FeishuSender

OK = json.dumps({"code": 0, "msg": "success", "data": {}})
SECRET = "feishu-signing-secret"
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def documented_sign(timestamp: str, secret: str) -> str:
    """Feishu's sample: HMAC-SHA256 keyed by 'timestamp\\nsecret' over an empty message."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def test_feishu_signed_post_verifies_with_the_documented_algorithm() -> None:
    with receiving(OK) as receiver:
        settings = {"url": receiver.url("/open-apis/bot/v2/hook/HOOKID"), "secret": SECRET}
        FeishuSender("ops-feishu", settings, clock=lambda: NOW).deliver(notification())
    body = receiver.received[0].json
    assert body["timestamp"] == str(int(NOW.timestamp()))
    assert body["sign"] == documented_sign(body["timestamp"], SECRET)
    assert body["msg_type"] == "post"
    post = body["content"]["post"]["en_us"]
    assert post["title"] == "[P1 emergency] Triggered: 磁盘空间不足 on db-1"
    assert [{"tag": "text", "text": "Host: "}, {"tag": "text", "text": "db-1"}] in post["content"]
    ack = {
        "tag": "a",
        "text": "acknowledge in one click",
        "href": "https://oncall.example.com/ack/TOKEN",
    }
    assert ack in [part for line in post["content"] for part in line]


def test_feishu_code_in_a_200_is_a_failure_naming_neither_hook_nor_secret() -> None:
    refusal = json.dumps(
        {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
    )
    with receiving(refusal) as receiver:
        settings = {"url": receiver.url("/open-apis/bot/v2/hook/HOOKID-1234"), "secret": SECRET}
        with pytest.raises(DeliveryFailed) as caught:
            FeishuSender("ops-feishu", settings).deliver(notification())
    assert "code 19021" in caught.value.message
    assert "HOOKID-1234" not in caught.value.message and SECRET not in caught.value.message
