"""The generic webhook: the contract's event JSON, POSTed with an Idempotency-Key header."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests

from tocsin.bridge.notify.channels import Notification, setting_secret
from tocsin.bridge.notify.channels.http import DEFAULT_TIMEOUT, JsonPoster


class WebhookSender:
    """POSTs {"event", "occurred_at", "incident", "sla"?}; any 2xx is acceptance."""

    type = "webhook"

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
        """Post the event JSON exactly as the contract defines it."""
        self.poster.post(notification.body, key=notification.key)
