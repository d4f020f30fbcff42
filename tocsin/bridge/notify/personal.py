"""Personal notification rules on the outbox: a person's later steps wait as durable timers.

When a page reaches someone with a rule for the incident's priority, the steps due now are
queued at once and every later (or quiet-hours held) step becomes a `rule_step` timer, so a
restart loses none. A step that fires while its page still asks something of the person queues
that method's page; one that falls in their quiet hours waits for them to end. When a provider
reports a call or text unanswered, busy or failed, the person's next step fires at once. Each
of these is an `incident.notified` event in the timeline (for people: not sent to channels).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from tocsin.bridge.incidents.events import record_event
from tocsin.bridge.paging.personal import held_until, plan
from tocsin.bridge.platform.clock import rfc3339
from tocsin.bridge.policy.model import Person, Target
from tocsin.bridge.store.lists import in_list
from tocsin.bridge.store.schema import incidents, outbox
from tocsin.bridge.timers.rows import Timer, move, pending, schedule

if TYPE_CHECKING:
    from tocsin.bridge.notify.outbox import Outbox, Place

log = logging.getLogger(__name__)
KIND = "rule_step"  # the timer of a person's later rule step; subject: the person
NOTIFIED = "incident.notified"


class PersonalRules:
    """Plans, fires and hurries the steps of people's rules, writing through the outbox."""

    def __init__(self, box: Outbox) -> None:
        self.box = box
        self.wake: Callable[[datetime], None] | None = None  # the scheduler's, once installed

    def priorities(
        self, conn: Connection, pages: Sequence[tuple[int, int, Sequence[Target]]]
    ) -> dict[int, str]:
        """Return the priority of each paged incident that pages a person with rules."""
        people = self.box.policy.people
        ids = [
            incident_id
            for incident_id, _, targets in pages
            if any(
                t.kind == "person" and t.name in people and people[t.name].rules for t in targets
            )
        ]
        if not ids:
            return {}
        query = select(incidents.c.id, incidents.c.priority).where(in_list(incidents.c.id, "ids"))
        return {int(row.id): str(row.priority) for row in conn.execute(query, {"ids": ids})}

    def page(
        self,
        conn: Connection,
        incident_id: int,
        event_id: int,
        person: Person,
        priority: str,
        now: datetime,
    ) -> list[Place]:
        """Return the person's places due now; schedule the later steps and record the plan."""
        steps = plan(person, priority, now) or []
        places, later = [], []
        for step in steps:
            if step.due <= now and not step.held:
                places.append(self.box.place(person, step.via, step.index))
                continue
            payload = {"event_id": event_id, "step": step.index, "via": step.via}
            schedule(conn, KIND, step.due, now=now, incident_id=incident_id,
                     subject=person.name, payload=payload)  # fmt: skip
            later.append({"step": step.index, "via": step.via, "at": rfc3339(step.due),
                          "held": step.held})  # fmt: skip
        if later and self.wake is not None:
            self.wake(min(step.due for step in steps if step.due > now or step.held))
        self._record(conn, incident_id, now, person=person.name,
                     sent=[place.channel for place in places], planned=later)  # fmt: skip
        return places

    def fire(self, conn: Connection, timer: Timer, now: datetime) -> None:
        """Fire one rule step: queue its page, hold it past quiet hours, or drop it if stale."""
        policy = self.box.policy
        person = policy.people.get(timer.subject or "")
        event = self.box.event(conn, int(timer.payload.get("event_id", 0)))
        index = int(timer.payload.get("step", 0))
        if person is None or event is None or timer.incident_id is None:
            log.warning("rule step %s of %s: the person or their page is gone; nothing sent",
                        index, timer.subject)  # fmt: skip
            return
        row = conn.execute(
            select(incidents.c.status, incidents.c.priority).where(
                incidents.c.id == timer.incident_id
            )
        ).first()
        if row is None or row.status in self.box.stale(event):
            return  # acknowledged or resolved: the step has nothing left to ask
        rule = person.rule_for(str(row.priority)) or ()
        via = str(timer.payload.get("via", ""))
        if index >= len(rule) or rule[index].via != via:
            log.warning("incident %s: %s's rule changed since the page; step %s by %s not sent",
                        timer.incident_id, person.name, index, via)  # fmt: skip
            return
        until = held_until(person, str(row.priority), now)
        if until is not None:
            schedule(conn, KIND, until, now=now, incident_id=timer.incident_id,
                     subject=person.name, payload=timer.payload)  # fmt: skip
            self._record(conn, timer.incident_id, now, person=person.name, held=[via],
                         until=rfc3339(until), step=index)  # fmt: skip
            return
        self.box.write(conn, [(event, [self.box.place(person, via, index)])], now, paged=True)
        self._record(conn, timer.incident_id, now, person=person.name, sent=[via], step=index,
                     **timer.late_data())  # fmt: skip

    def unreached(self, conn: Connection, row_id: int, status: str, now: datetime) -> bool:
        """Fire the next step of the rule a page to `row_id` was, at once; return if one was."""
        hurried = hurry(conn, row_id, status, now)
        if hurried and self.wake is not None:
            self.wake(now)
        return hurried

    def _record(self, conn: Connection, incident_id: int, now: datetime, **data: Any) -> None:
        record(conn, incident_id, now, **data)


def hurry(conn: Connection, row_id: int, status: str, now: datetime) -> bool:
    """Move the next step of the rule an outbox row's page was to `now`; return if one was.

    Called when the page did not reach the person (a provider's report, or its refusal); the
    timeline records it either way, and a rule with no step left is logged at WARNING.
    """
    row = conn.execute(
        select(
            outbox.c.incident_id,
            outbox.c.event_id,
            outbox.c.recipient,
            outbox.c.channel,
            outbox.c.payload,
        ).where(outbox.c.id == row_id)  # fmt: skip
    ).first()
    step = _rule_step(row.payload if row is not None else None)
    if row is None or step is None or row.incident_id is None:
        return False
    later = [
        timer
        for timer in pending(
            conn, incident_id=int(row.incident_id), kinds=[KIND], subject=row.recipient
        )  # fmt: skip
        if timer.payload.get("event_id") == row.event_id
        and int(timer.payload.get("step", 0)) > step
    ]
    following = min(later, key=lambda t: int(t.payload.get("step", 0)), default=None)
    if following is not None:
        move(conn, following.id, now, following.payload)
    else:
        log.warning("incident %s: %s was not reached by %s (%s) and their rule has no "
                    "further step", row.incident_id, row.recipient, row.channel, status)  # fmt: skip
    record(conn, int(row.incident_id), now, person=row.recipient, unanswered=row.channel,
           status=status, step=step,
           next=following.payload.get("via") if following else None)  # fmt: skip
    return following is not None


def record(conn: Connection, incident_id: int, now: datetime, **data: Any) -> None:
    """Record what a person's rule did as an incident.notified event (timeline only)."""
    record_event(conn, [], incident_id=incident_id, kind=NOTIFIED, actor=None, now=now,
                 data={k: v for k, v in data.items() if v not in (None, [])})  # fmt: skip


def _rule_step(payload: Mapping[str, Any] | None) -> int | None:
    """Return the rule step an outbox row's payload says it is, if any."""
    value = (payload or {}).get("rule_step")
    return value if isinstance(value, int) else None
