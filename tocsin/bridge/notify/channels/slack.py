"""Slack-compatible incoming webhooks: a text fallback plus Block Kit blocks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.base import HttpChannel
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.render import as_slack_mrkdwn, as_text
from tocsin.bridge.notify.sanitize import safe_link
from tocsin.bridge.notify.sanitize import slack as slack_escape

HEADER_LIMIT = 150  # characters of a header block's plain_text
SECTION_LIMIT = 3000  # characters of a section's text


def slack_payload(message: Message) -> dict[str, Any]:
    """Return the incoming-webhook body: `text` for notifications, blocks for the message."""
    headline = message.headline
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:HEADER_LIMIT]}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": as_slack_mrkdwn(message)[:SECTION_LIMIT]},
        },
    ]
    wanted = [
        (message.t("button.ack"), safe_link(message.ack_url), "primary"),
        (message.t("button.open"), safe_link(message.incident_url), None),
    ]
    buttons = [(label, url, style) for label, url, style in wanted if url]
    if buttons:
        elements = []
        for label, url, style in buttons:
            element: dict[str, Any] = {
                "type": "button",
                "text": {"type": "plain_text", "text": label},
                "url": url,
            }
            if style:
                element["style"] = style
            elements.append(element)
        blocks.append({"type": "actions", "elements": elements})
    return {"text": slack_escape(headline), "blocks": blocks}


class SlackSender(HttpChannel):
    """Posts to a Slack (or Mattermost/Rocket.Chat) incoming webhook; Slack answers 200 'ok'."""

    type = "slack"

    def payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the page as text and blocks."""
        return slack_payload(notification.message)

    def text_payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the page as escaped text only."""
        return {"text": slack_escape(as_text(notification.message))}
