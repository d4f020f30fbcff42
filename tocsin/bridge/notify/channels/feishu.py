"""Feishu (飞书) custom bot: rich-text `post` messages, optionally signed in the body."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.base import HttpChannel
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.render import as_text
from tocsin.bridge.notify.sanitize import feishu_text


def feishu_sign(secret: str, timestamp: int) -> str:
    """Return base64(HMAC-SHA256(key="timestamp\\nsecret", msg=b"")), as Feishu documents."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode("ascii")


def feishu_payload(message: Message) -> dict[str, Any]:
    """Return {"msg_type": "post", "content": {"post": {"zh_cn"|"en_us": {"title", "content"}}}}."""
    paragraphs: list[list[dict[str, str]]] = []
    for item in message.fields():
        line: list[dict[str, str]] = [{"tag": "text", "text": f"{item.label}: "}]
        if item.url:
            line.append({"tag": "a", "text": item.text, "href": item.url})
        else:
            line.append({"tag": "text", "text": item.text})
        paragraphs.append(line)
    post = {"title": message.headline, "content": paragraphs}
    locale = "zh_cn" if message.language == "zh-CN" else "en_us"
    return {"msg_type": "post", "content": {"post": {locale: post}}}


class FeishuSender(HttpChannel):
    """Posts to https://open.feishu.cn/open-apis/bot/v2/hook/…; success is code 0."""

    type = "feishu"
    # Feishu answers {"code": 0, "msg": "success"}; older deployments {"StatusCode": 0}.
    codes = ("code", "StatusCode")
    signs = True

    def payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the rich-text post."""
        return feishu_payload(notification.message)

    def text_payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return a `text` message."""
        text = feishu_text(as_text(notification.message))
        return {"msg_type": "text", "content": {"text": text}}

    def sign_body(self, body: Mapping[str, Any]) -> Mapping[str, Any]:
        """Sign at send time (seconds; Feishu allows an hour of skew)."""
        if not self.secret:
            return body
        timestamp = int(self.clock().timestamp())
        return {"timestamp": str(timestamp), "sign": feishu_sign(self.secret, timestamp), **body}
