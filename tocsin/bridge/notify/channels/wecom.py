"""WeCom (企业微信) group robot: `markdown` messages to the webhook whose `key` is the secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.base import HttpChannel
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.render import as_markdown, as_text, truncate_utf8

CONTENT_LIMIT = 4096  # bytes of UTF-8 in markdown.content, as WeCom documents
TEXT_LIMIT = 2048  # bytes of UTF-8 in text.content


def wecom_payload(message: Message, mentioned: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return the robot body {"msgtype": "markdown", "markdown": {"content": …}}."""
    content = as_markdown(message)
    if mentioned:
        content += "\n" + " ".join(f"<@{user}>" for user in mentioned)
    return {"msgtype": "markdown", "markdown": {"content": truncate_utf8(content, CONTENT_LIMIT)}}


class WeComSender(HttpChannel):
    """Posts to https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…; success is errcode 0."""

    type = "wecom"
    codes = ("errcode",)

    @property
    def mentioned(self) -> tuple[str, ...]:
        """Return the WeCom user ids to @-mention under each page (`mentioned_list`)."""
        return tuple(str(u) for u in self.settings.get("mentioned_list") or ())

    def payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the markdown message."""
        return wecom_payload(notification.message, self.mentioned)

    def text_payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return a `text` message."""
        text = truncate_utf8(as_text(notification.message), TEXT_LIMIT)
        return {"msgtype": "text", "text": {"content": text}}
