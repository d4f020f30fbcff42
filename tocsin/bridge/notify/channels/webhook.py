"""The generic webhook: the contract's event JSON, POSTed with an Idempotency-Key header.

Beside the contract's fields the body carries `page`: the page as people read it (language,
headline, plain text), for receivers that forward it to a person (a ticket, an SMS gateway).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.base import HttpChannel
from tocsin.bridge.notify.render import as_text


class WebhookSender(HttpChannel):
    """POSTs {"event", "occurred_at", "incident", "sla"?}; any 2xx is acceptance."""

    type = "webhook"

    def payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the contract's event JSON and the page in the reader's language."""
        message = notification.message
        page = {
            "language": message.language,
            "headline": message.headline,
            "text": as_text(message),
        }
        return {**notification.body, "page": page}

    def text_payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the contract's event JSON alone: its data needs no rendering."""
        return notification.body
