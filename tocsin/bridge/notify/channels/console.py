"""The `log` channel: the page written to the bridge's own log, where a newcomer sees it first.

Meant for a first run and for people without an address yet: nothing to configure, nothing
to reach. Each page is one INFO line of the `tocsin.bridge.pages` logger, its alert text
on one line with control characters removed, so a summary cannot forge log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tocsin.bridge.notify.channels import Notification
from tocsin.bridge.notify.render import as_line

pages_log = logging.getLogger("tocsin.bridge.pages")


class LogSender:
    """Writes each page to the bridge log; it is delivered once the line is written."""

    type = "log"

    def __init__(self, name: str, settings: Mapping[str, Any]) -> None:
        self.name = name
        self.settings = settings

    def deliver(self, notification: Notification) -> None:
        """Log the page as one line: whom it is for, then its headline and fields."""
        whom = notification.recipient or self.name
        pages_log.info("PAGE to %s via %s: %s", whom, self.name, as_line(notification.message))
