"""Slack-compatible incoming webhooks: a text fallback plus Block Kit blocks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from tocsin.bridge.notify.channels import Notification, setting_secret
from tocsin.bridge.notify.channels.http import DEFAULT_TIMEOUT, JsonPoster
from tocsin.bridge.notify.message import Message
from tocsin.bridge.notify.render import as_slack_mrkdwn, slack_escape

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
    buttons: list[tuple[str, str, str | None]] = []
    if message.ack_url:
        buttons.append(("Acknowledge", message.ack_url, "primary"))
    if message.incident_url:
        buttons.append(("Open incident", message.incident_url, None))
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


class SlackSender:
    """Posts to a Slack (or Mattermost/Rocket.Chat) incoming webhook; Slack answers 200 'ok'."""

    type = "slack"

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
        self.poster = JsonPoster(name, url, session=session, timeout=timeout)

    def deliver(self, notification: Notification) -> None:
        """Post the page as text and blocks."""
        self.poster.post(slack_payload(notification.message), key=notification.key)
