"""The generic webhook: the contract's event JSON, POSTed with an Idempotency-Key header."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.channels.base import HttpChannel


class WebhookSender(HttpChannel):
    """POSTs {"event", "occurred_at", "incident", "sla"?}; any 2xx is acceptance."""

    type = "webhook"

    def payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the event JSON exactly as the contract defines it."""
        return notification.body

    def text_payload(self, notification: Notification) -> Mapping[str, Any]:
        """Return the event JSON: nothing in it is rendered, so there is nothing to fall back from."""
        return notification.body
