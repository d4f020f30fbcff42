"""WeCom (企业微信) group robot: `markdown` messages to the webhook whose `key` is the secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from tocsin.bridge.notify.channels import Notification, setting_secret
from tocsin.bridge.notify.channels.http import DEFAULT_TIMEOUT, JsonPoster
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.render import as_markdown, truncate_utf8

CONTENT_LIMIT = 4096  # bytes of UTF-8 in markdown.content, as WeCom documents


def wecom_payload(message: Message, mentioned: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the robot body {"msgtype": "markdown", "markdown": {"content": …}}."""
    content = as_markdown(message)
    if mentioned:
        content += "\n" + " ".join(f"<@{user}>" for user in mentioned)
    return {"msgtype": "markdown", "markdown": {"content": truncate_utf8(content, CONTENT_LIMIT)}}


class WeComSender:
    """Posts to https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…; success is errcode 0."""

    type = "wecom"

    def __init__(
        self,
        name: str,
        settings: Mapping[str, Any],
        *,
        session: requests.Session | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.name = name
        url = setting_secret(settings, "url", channel=name) or ""
        self.mentioned = tuple(str(u) for u in settings.get("mentioned_list") or ())
        self.poster = JsonPoster(name, url, session=session, timeout=timeout)

    def deliver(self, notification: Notification) -> None:
        """Post the page; a 200 whose errcode is not 0 is a refusal."""
        response = self.poster.post(
            wecom_payload(notification.message, self.mentioned), key=notification.key
        )
        self.poster.require_code(response, "errcode")
