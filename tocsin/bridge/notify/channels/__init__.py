"""Channels: one sender per channel type, each delivering a Notification or raising DeliveryFailed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tocsin.bridge.errors import ConfigError
from tocsin.bridge.notify.message import Message


@dataclass(frozen=True)
class Notification:
    """One outbox row as a sender sees it: the contract's event JSON, the page and the key."""

    key: str  # the idempotency key, stable across retries
    body: Mapping[str, Any]  # {"event", "occurred_at", "incident", "sla"?}
    message: Message
    to: tuple[str, ...] = field(default_factory=tuple)  # a person's mail address, or phone number
    recipient: str | None = None  # the person paged; None for a channel's own message


class Sender(Protocol):
    """Delivers notifications to one configured channel."""

    name: str
    type: str

    def deliver(self, notification: Notification) -> None:
        """Return once the receiver accepted the notification; raise DeliveryFailed otherwise."""


def setting_secret(
    settings: Mapping[str, Any], key: str, *, channel: str, required: bool = True
) -> str | None:
    """Return a secret setting given inline (`key`) or in a file (`key_file`), stripped."""
    if settings.get(key):
        return str(settings[key])
    path = settings.get(f"{key}_file")
    if path:
        try:
            return Path(str(path)).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"channel {channel!r}: cannot read {key}_file {path}: {exc.strerror}; "
                "check the path and that the bridge's user may read it"
            ) from exc
    if required:
        raise ConfigError(f"channel {channel!r}: set '{key}' or '{key}_file'")
    return None
