"""Every channel format renders a page in English and in Simplified Chinese."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from tests.bridge.notify.sample import message, notification
from tocsin.bridge.notify.channels.dingtalk import dingtalk_payload
from tocsin.bridge.notify.channels.email import build_email
from tocsin.bridge.notify.channels.feishu import feishu_payload
from tocsin.bridge.notify.channels.slack import slack_payload
from tocsin.bridge.notify.channels.webhook import WebhookSender
from tocsin.bridge.notify.channels.wecom import wecom_payload
from tocsin.bridge.notify.message import Message


def _mail(page: Message) -> str:
    mail = build_email(replace(notification(), message=page), "t@example.com", ("a@x",))
    parts = [mail.get_body((kind,)) for kind in ("plain", "html")]
    return str(mail["Subject"]) + "".join(p.get_content() for p in parts if p is not None)


def _webhook(page: Message) -> str:
    sender = WebhookSender("hook", {"url": "http://127.0.0.1:9/"})
    return json.dumps(sender.payload(replace(notification(), message=page)), ensure_ascii=False)


RENDERERS: dict[str, Callable[[Message], Any]] = {
    "slack": slack_payload,
    "wecom": wecom_payload,
    "dingtalk": dingtalk_payload,
    "feishu": feishu_payload,
    "email": _mail,
    "webhook": _webhook,
}
EXPECTED = {
    "en": ["New P1 incident: 磁盘空间不足 on db-1", "Alert", "Host", "Severity", "Deadline",
           "response due in 15 minutes, at Mon 2026-03-02 18:15 Asia/Shanghai", "Runbook"],
    "zh-CN": ["新 P1 事件：磁盘空间不足 on db-1", "告警", "主机", "级别", "时限",
              "响应时限还剩 15 分，截止 周一 2026-03-02 18:15 Asia/Shanghai", "处置手册"],
}  # fmt: skip


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("channel", list(RENDERERS))
def test_every_format_renders_the_page_in_the_readers_language(channel: str, language: str) -> None:
    page = message(language=language, first=True, zone="Asia/Shanghai")
    rendered = RENDERERS[channel](page)
    shown = rendered if isinstance(rendered, str) else json.dumps(rendered, ensure_ascii=False)
    missing = [text for text in EXPECTED[language] if text not in shown]
    other = "zh-CN" if language == "en" else "en"
    assert missing == [] and EXPECTED[other][0] not in shown
