"""Feishu (飞书) custom bot: rich-text `post` messages, optionally signed in the body."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import requests

from tocsin.bridge.notify.channels import Notification, setting_secret
from tocsin.bridge.notify.channels.http import DEFAULT_TIMEOUT, JsonPoster
from tocsin.bridge.notify.message import Message
from tocsin.bridge.platform.clock import Clock, utcnow


def feishu_sign(secret: str, timestamp: int) -> str:
    """Return base64(HMAC-SHA256(key="timestamp\\nsecret", msg=b"")), as Feishu documents."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def feishu_payload(message: Message) -> dict[str, Any]:
    """Return {"msg_type": "post", "content": {"post": {"zh_cn": {"title", "content"}}}}."""
    paragraphs: list[list[dict[str, str]]] = []
    for item in message.fields():
        line: list[dict[str, str]] = [{"tag": "text", "text": f"{item.label}: "}]
        if item.url:
            line.append({"tag": "a", "text": item.text, "href": item.url})
        else:
            line.append({"tag": "text", "text": item.text})
        paragraphs.append(line)
    post = {"title": message.headline, "content": paragraphs}
    return {"msg_type": "post", "content": {"post": {"zh_cn": post}}}


class FeishuSender:
    """Posts to https://open.feishu.cn/open-apis/bot/v2/hook/…; success is code 0."""

    type = "feishu"

    def __init__(
        self,
        name: str,
        settings: Mapping[str, Any],
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = utcnow,
    ) -> None:
        self.name = name
        url = setting_secret(settings, "url", channel=name) or ""
        self.secret = setting_secret(settings, "secret", channel=name, required=False)
        self.clock = clock
        secrets = [self.secret] if self.secret else []
        self.poster = JsonPoster(name, url, secrets=secrets, session=session, timeout=timeout)

    def deliver(self, notification: Notification) -> None:
        """Sign at send time (seconds; Feishu allows an hour of skew) and post."""
        body = feishu_payload(notification.message)
        if self.secret:
            timestamp = int(self.clock().timestamp())
            body = {
                "timestamp": str(timestamp),
                "sign": feishu_sign(self.secret, timestamp),
                **body,
            }
        response = self.poster.post(body, key=notification.key)
        # Feishu answers {"code": 0, "msg": "success"}; older deployments {"StatusCode": 0}.
        self.poster.require_code(response, "code", "StatusCode")
