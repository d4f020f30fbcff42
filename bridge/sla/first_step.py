"""Page a new incident's first escalation step in the transaction that opens it, if due at once.

With `after: 0m` the first step is due the moment the incident opens. As a timer it would be
inserted, claimed, fired and marked by the scheduler right after the commit: four writes and
two transactions for a page that was never in doubt. Paged here it costs none of that, and a
sender's 2xx means the page is queued too. Registered after every other hook, so the opening
event's own notifications are queued before the page, as they were when the scheduler paged.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from bridge.events import Event
from bridge.sla.handlers import SlaHandlers


class FirstStep:
    """The EventHook that pages the immediate first step of incidents just opened."""

    def __init__(self, handlers: SlaHandlers) -> None:
        self.handlers = handlers

    def __call__(self, conn: Connection, event: Event) -> None:
        self.many(conn, [event])

    def many(self, conn: Connection, events: Sequence[Event]) -> None:
        """Hear a batch of events: page the first steps of all incidents opened in it at once."""
        opened = [event for event in events if event.kind == "incident.triggered"]
        if opened:
            self.handlers.first_steps(conn, opened)
