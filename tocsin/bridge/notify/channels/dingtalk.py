"""DingTalk (钉钉) custom robot: `markdown` messages, optionally signed (加签) in the URL query."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.base import HttpChannel
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.render import as_markdown, as_text


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Return base64(HMAC-SHA256(key=secret, msg="timestamp\\nsecret")), as DingTalk documents."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    digest = hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_url(url: str, secret: str, timestamp_ms: int) -> str:
    """Append &timestamp=…&sign=… (URL-encoded) to the robot URL."""
    joiner = "&" if "?" in url else "?"
    sign = quote_plus(dingtalk_sign(secret, timestamp_ms))
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={sign}"


def dingtalk_payload(message: Message) -> dict[str, Any]:
    """Return {"msgtype": "markdown", "markdown": {"title", "text"}}; DingTalk breaks on blank lines."""
    return {
        "msgtype": "markdown",
        "markdown": {"title": message.headline, "text": as_markdown(message, line_break="\n\n")},
    }


class DingTalkSender(HttpChannel):
    """Posts to https://oapi.dingtalk.com/robot/send?access_token=…; success is errcode 0."""

    type = "dingtalk"
    codes = ("errcode",)
    signs = True

    def payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the markdown message."""
        return dingtalk_payload(notification.message)

    def text_payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return a `text` message."""
        return {"msgtype": "text", "text": {"content": as_text(notification.message)}}

    def sign_url(self, url: str) -> str:
        """Sign at send time (DingTalk rejects timestamps over an hour old)."""
        if not self.secret:
            return url
        return signed_url(url, self.secret, int(self.clock().timestamp() * 1000))
