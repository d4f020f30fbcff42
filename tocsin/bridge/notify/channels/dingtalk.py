"""DingTalk (钉钉) custom robot: `markdown` messages, optionally signed (加签) in the URL query."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

import requests

from tocsin.bridge.notify.channels import Notification, setting_secret
from tocsin.bridge.notify.channels.http import DEFAULT_TIMEOUT, JsonPoster
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.render import as_markdown
from tocsin.bridge.platform.clock import Clock, utcnow


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


class DingTalkSender:
    """Posts to https://oapi.dingtalk.com/robot/send?access_token=…; success is errcode 0."""

    type = "dingtalk"

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
        self.url = setting_secret(settings, "url", channel=name) or ""
        self.secret = setting_secret(settings, "secret", channel=name, required=False)
        self.clock = clock
        secrets = [self.secret] if self.secret else []
        self.poster = JsonPoster(name, self.url, secrets=secrets, session=session, timeout=timeout)

    def deliver(self, notification: Notification) -> None:
        """Sign at send time (DingTalk rejects timestamps over an hour old) and post."""
        url = self.url
        if self.secret:
            url = signed_url(url, self.secret, int(self.clock().timestamp() * 1000))
        response = self.poster.post(
            dingtalk_payload(notification.message), key=notification.key, url=url
        )
        self.poster.require_code(response, "errcode")
