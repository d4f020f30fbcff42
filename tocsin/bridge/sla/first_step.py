"""Page a new incident's first escalation step in the transaction that opens it, if due at once.

With `after: 0m` the first step is due the moment the incident opens. As a timer it would be
inserted, claimed, fired and marked by the scheduler right after the commit: four writes and
two transactions for a page that was never in doubt. Paged here it costs none of that, and a
sender's 2xx means the page is queued too. Registered after every other hook, so the opening
event's own notifications are queued before the page, as they were when the scheduler paged.

Paging must never cost an alert: if it fails for any reason but the database's, its writes are
rolled back to a savepoint and the steps are left to the scheduler as timers due now, which
retries them; the incidents still commit and the sender gets its 2xx.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from tocsin.bridge.incidents.events import Event
from tocsin.bridge.sla.handlers import SlaHandlers

log = logging.getLogger(__name__)


class FirstStep:
    """The EventHook that pages the immediate first step of incidents just opened."""

    def __init__(self, handlers: SlaHandlers) -> None:
        self.handlers = handlers

    def __call__(self, conn: Connection, event: Event) -> None:
        self.many(conn, [event])

    def many(self, conn: Connection, events: Sequence[Event]) -> None:
        """Hear a batch of events: page the first steps of all incidents opened in it at once."""
        opened = [event for event in events if event.kind == "incident.triggered"]
        if not opened:
            return
        try:
            with conn.begin_nested():
                self.handlers.first_steps(conn, opened)
        except DBAPIError:
            raise  # the database's trouble fails the whole transaction: the sender retries
        except Exception:
            log.exception(
                "paging the first step of %d new incident(s) failed; the scheduler retries it",
                len(opened),
            )
            self.handlers.first_step_timers(conn, opened)
