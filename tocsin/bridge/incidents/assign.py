"""Tell a new assignee: page the person (or the team's on-call) an incident is handed to.

A reassignment that nobody hears is a silent hand-off; the page goes through the same pager as an
escalation, in the transaction that records the change. Whom it reached not is recorded in the
event and logged at WARNING, so the hand-off is reached or loudly not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tocsin.bridge.incidents.events import Event
from tocsin.bridge.incidents.intake import known_assignee
from tocsin.bridge.paging.oncall import Reach, reach
from tocsin.bridge.paging.pager import Pager
from tocsin.bridge.policy.model import Policy, Target

log = logging.getLogger(__name__)


@dataclass
class Assigner:
    """Check assignees against the policy and page them, bound to the runtime's policy and pager."""

    policy: Callable[[], Policy]
    pager: Callable[[], Pager | None]

    def check(self, name: str) -> str:
        """Return the name if the policy knows it as a person or a team, else raise InvalidInput."""
        return known_assignee(self.policy(), name)

    def reach(self, name: str, now: datetime) -> Reach:
        """Return whom paging an assignee reaches now (a team pages its on-call person)."""
        policy = self.policy()
        kind = "person" if name in policy.people else "team"
        return reach(policy, [Target(kind, name)], now)

    def page(self, conn: Connection, event: Event, found: Reach) -> None:
        """Queue the pages for the event in its transaction; warn when they reach nobody."""
        pager = self.pager()
        if found.unreached or not found.targets or pager is None:
            log.warning(
                "incident %s: the assignee %s was not paged (%s)",
                event.incident_id,
                event.data.get("assignee"),
                "no pager configured" if pager is None else "nobody on call",
            )
        if pager is not None and found.targets:
            pager.page(
                conn,
                incident_id=event.incident_id,
                event_id=event.id,
                targets=found.targets,
                now=event.occurred_at,
            )


def paged_data(found: Reach) -> dict[str, Any]:
    """Return the event data naming whom the page reached and whom it did not."""
    return {"paged": [t.name for t in found.targets], **found.event_data()}
