"""Take the reporter's survey answer through a survey link, once, and tell the manager of a low one.

The link is spent and the answer recorded in one transaction, so a second POST (or a race of
two) changes nothing. A score of 1 or 2 pages the team's manager through the outbox like any
page; a team without a manager leaves a WARNING and the reason in the answer's event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from tocsin.bridge.incidents.events import Event, EventHook
from tocsin.bridge.incidents.survey import Answer, record_answer
from tocsin.bridge.notify.links import AckClaim, consume
from tocsin.bridge.paging.pager import Pager
from tocsin.bridge.policy.model import Policy, Target

log = logging.getLogger(__name__)


def answer_survey(
    conn: Connection,
    hooks: Sequence[EventHook],
    claim: AckClaim,
    answer: Answer,
    *,
    now: datetime,
    policy: Policy,
    pager: Pager | None,
) -> Event:
    """Spend the link, record the answer and page the manager of a low score, in one transaction."""
    consume(conn, claim, now)
    event = record_answer(conn, hooks, claim.incident_id, answer, now=now, policy=policy)
    manager = event.data.get("manager_paged")
    if manager and pager is not None:
        target = Target("person", str(manager))
        pager.page(conn, incident_id=claim.incident_id, event_id=event.id, targets=[target],
                   now=now)  # fmt: skip
    elif "manager_missing" in event.data or manager:
        log.warning("incident %s: the reporter scored it %d/5 and no manager was paged: %s",
                    claim.incident_id, answer.score,
                    event.data.get("manager_missing") or "the bridge has no pager")  # fmt: skip
    return event
