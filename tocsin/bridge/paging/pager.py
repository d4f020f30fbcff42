"""The seam between deciding whom to page (escalation) and reaching them (the outbox)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import Connection

from tocsin.bridge.policy.model import Target


class Pager(Protocol):
    """Queue pages for people or channels, durably, in the caller's transaction.

    A pager may also offer page_many(conn, pages, now), pages being (incident_id, event_id,
    targets) tuples, to queue many at once; escalation uses it when present (the outbox does).
    """

    def page(
        self,
        conn: Connection,
        *,
        incident_id: int,
        event_id: int,
        targets: Sequence[Target],
        now: datetime,
    ) -> None:
        """Write one outbox row per recipient; targets are already resolved to persons and channels."""
